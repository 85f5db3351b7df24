"""Ten seeds of a PacGAN recipe trained at once (issue 13's question): the paper's 2-D networks with
their parameters stacked along a seed axis and one `torch.func.vmap` step for all ten, beside the
anchor, ten genbench models each taking its own `train_step` on the same batches in the same run,
which is what `genbench bench pacgan` does one run at a time. The vmapped step is the same
computation (checked below, loss for loss); the figure is the ratio of the two rows in group
'pacgan-10-seeds-pack{m}'. Run:
`pytest tests/benchmarks/test_pacgan_vmap_speed.py --benchmark-only`.

The stacked generator uses batch statistics without tracking running ones
(`replace_all_batch_norm_modules_`), which a real vmapped trainer would have to add back for
sampling in eval mode: a few element-wise ops per step, so the ratio flatters vmap slightly."""

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import func

from genbench.models import build_model
from genbench.training import TrainConfig

SEEDS, INPUTS, STEPS = 10, 100, 10
PAPER = {"latent": 2, "hidden": 400, "layers": 4, "batch_norm": True, "g_activation": "relu",
         "discriminator": "maxout", "d_hidden": 200, "d_layers": 3, "maxout_pieces": 5, "init_std": 0.02,
         "update": "simultaneous"}
CFG = TrainConfig(lr=1e-4, beta1=0.8, beta2=0.999)


def models(pack):
    out = []
    for seed in range(SEEDS):
        torch.manual_seed(seed)
        m = build_model("gan", (2,), {**PAPER, "pack": pack})
        m.configure_training(CFG)
        out.append(m)
    return out


def batches(pack):
    """Per step, each seed's batch of INPUTS packs and its generator's latents (as `train_step` draws them)."""
    g = torch.Generator().manual_seed(0)
    real = [torch.randn(SEEDS, pack * INPUTS, 2, generator=g) for _ in range(STEPS)]
    gens = [torch.Generator().manual_seed(100 + s) for s in range(SEEDS)]
    z = [torch.stack([torch.randn(pack * INPUTS, 2, generator=gens[s]) for s in range(SEEDS)]) for _ in range(STEPS)]
    return real, z


class Stacked:
    """The ten seeds' G and D as stacked tensors (seed axis first) and one AdamW over them: Adam is
    element-wise, so one optimizer over stacked tensors is ten independent ones."""

    def __init__(self, ms, pack):
        self.pack = pack
        self.G, self.D = copy.deepcopy(ms[0].G).to("meta"), copy.deepcopy(ms[0].D).to("meta")
        func.replace_all_batch_norm_modules_(self.G)
        self.gp, _ = func.stack_module_state([m.G for m in ms])
        self.dp, _ = func.stack_module_state([m.D for m in ms])
        params = list(self.gp.values()) + list(self.dp.values())
        self.opt = torch.optim.AdamW(params, lr=CFG.lr, betas=(CFG.beta1, CFG.beta2), weight_decay=CFG.weight_decay)
        self.step_all = func.vmap(func.grad(self.losses, argnums=(0, 1), has_aux=True))

    def losses(self, gp, dp, real, z):
        """L_D at D's weights with G's samples held fixed, plus L_G at G's weights with D's held fixed:
        one gradient of the sum is both players' gradients at the current weights (simultaneous update)."""
        d = lambda p, x: func.functional_call(self.D, p, (x.reshape(-1, self.pack * 2),))  # noqa: E731
        fake = func.functional_call(self.G, gp, (z,))
        loss_d = F.softplus(-d(dp, real)).mean() + F.softplus(d(dp, fake.detach())).mean()
        loss_g = F.softplus(-d({k: v.detach() for k, v in dp.items()}, fake)).mean()
        return loss_d + loss_g, (loss_g, loss_d)

    def step(self, real, z):
        (g_grads, d_grads), (loss_g, loss_d) = self.step_all(self.gp, self.dp, real, z)
        for store, grads in ((self.gp, g_grads), (self.dp, d_grads)):
            for k, v in store.items():
                v.grad = grads[k]
        self.opt.step()
        return loss_g, loss_d


def run_genbench(ms, real, z):
    out = []
    for r, zz in zip(real, z, strict=True):
        losses = []
        for s, m in enumerate(ms):
            m._fake = lambda n, g, m=m, zs=zz[s]: m._from_latents(zs)  # the pre-drawn latents, as the stacked arm uses
            losses.append(tuple(m.train_step(r[s], None).values()))
        out.append(losses)
    return out


def run_stacked(st, real, z):
    return [list(zip(*[t.tolist() for t in st.step(r, zz)], strict=True)) for r, zz in zip(real, z, strict=True)]


@pytest.mark.parametrize("pack", [1, 4])
def test_stacked_step_is_ten_train_steps(pack):
    real, z = batches(pack)
    ms = models(pack)
    st = Stacked(ms, pack)
    a, b = run_genbench(ms, real[:4], z[:4]), run_stacked(st, real[:4], z[:4])
    flat = lambda xs: [v for step in xs for pair in step for v in pair]  # noqa: E731
    assert flat(b) == pytest.approx(flat(a), rel=1e-4, abs=1e-6)
    assert flat(a)[0] != pytest.approx(flat(a)[2 * (SEEDS - 1)])  # the seeds really differ


@pytest.mark.parametrize("pack", [1, 4])
def test_ten_genbench_train_steps_anchor(benchmark, pack):
    benchmark.group = f"pacgan-10-seeds-pack{pack}"
    real, z = batches(pack)
    ms = models(pack)
    out = benchmark.pedantic(run_genbench, args=(ms, real, z), rounds=3, iterations=1, warmup_rounds=1)
    assert len(out) == STEPS


@pytest.mark.parametrize("pack", [1, 4])
def test_vmap_ten_seeds_step(benchmark, pack):
    benchmark.group = f"pacgan-10-seeds-pack{pack}"
    real, z = batches(pack)
    st = Stacked(models(pack), pack)
    out = benchmark.pedantic(run_stacked, args=(st, real, z), rounds=3, iterations=1, warmup_rounds=1)
    assert len(out) == STEPS
