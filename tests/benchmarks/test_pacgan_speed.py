"""Speed of a PacGAN4 step on the paper's 2-D networks (G 4x400 BN+ReLU, D 3 maxout layers of
200 x 5 pieces; batch 100 packs of 4 samples; simultaneous update) in genbench's `train_step`,
beside the same networks and update in a bare torch loop on the same batches (the anchor). Run:
`tox -e bench` or `pytest tests/benchmarks/test_pacgan_speed.py --benchmark-only`; compare the two
rows of group 'pacgan4-step' (target: genbench within 1.05x of the bare loop)."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from genbench.models import build_model
from genbench.training import TrainConfig

PACK, INPUTS, STEPS = 4, 100, 20
PAPER = {"latent": 2, "hidden": 400, "layers": 4, "batch_norm": True, "g_activation": "relu",
         "discriminator": "maxout", "d_hidden": 200, "d_layers": 3, "maxout_pieces": 5, "init_std": 0.02,
         "update": "simultaneous", "pack": PACK}
CFG = TrainConfig(lr=1e-4, beta1=0.8, beta2=0.999)


@pytest.fixture(scope="module")
def batches():
    g = torch.Generator().manual_seed(0)
    return [torch.randn(PACK * INPUTS, 2, generator=g) for _ in range(STEPS)]


def genbench_model():
    torch.manual_seed(0)
    model = build_model("gan", (2,), PAPER)
    model.configure_training(CFG)
    return model


class Bare:
    """The same networks written out in plain torch, with weights copied from a genbench model."""

    def __init__(self, model):
        self.G = nn.Sequential(*[m for i in range(4) for m in (nn.Linear(2 if i == 0 else 400, 400), nn.BatchNorm1d(400),
                                                               nn.ReLU())], nn.Linear(400, 2))
        self.D = nn.ModuleList([nn.Linear(2 * PACK, 1000), nn.Linear(200, 1000), nn.Linear(200, 1000), nn.Linear(200, 1)])
        self.G.load_state_dict(model.G.state_dict())
        self.D.load_state_dict({k.replace(".linear", ""): v for k, v in model.D.state_dict().items()})
        self.opt_d = torch.optim.AdamW(self.D.parameters(), lr=CFG.lr, betas=(CFG.beta1, CFG.beta2))
        self.opt_g = torch.optim.AdamW(self.G.parameters(), lr=CFG.lr, betas=(CFG.beta1, CFG.beta2))

    def d(self, x):
        for layer in self.D[:-1]:
            x = layer(x).view(len(x), 200, 5).amax(-1)
        return self.D[-1](x)

    def step(self, real, g):
        z = torch.randn(len(real), 2, generator=g)
        fake = self.G(z)
        loss_d = F.softplus(-self.d(real.reshape(INPUTS, -1))).mean() + F.softplus(self.d(fake.detach().reshape(INPUTS, -1))).mean()
        loss_g = F.softplus(-self.d(fake.reshape(INPUTS, -1))).mean()
        self.opt_d.zero_grad(set_to_none=True)
        self.opt_g.zero_grad(set_to_none=True)
        loss_d.backward()
        loss_g.backward(inputs=list(self.G.parameters()))
        self.opt_d.step()
        self.opt_g.step()
        return loss_g.item(), loss_d.item()


def run_genbench(model, batches):
    g = torch.Generator().manual_seed(1)
    return [tuple(model.train_step(b, g).values()) for b in batches]


def run_bare(bare, batches):
    g = torch.Generator().manual_seed(1)
    return [bare.step(b, g) for b in batches]


def test_bare_loop_is_the_same_computation(batches):
    model = genbench_model()
    bare = Bare(model)
    flat = lambda losses: [x for pair in losses for x in pair]  # noqa: E731
    assert flat(run_bare(bare, batches[:5])) == pytest.approx(flat(run_genbench(model, batches[:5])), rel=1e-5)


@pytest.mark.benchmark(group="pacgan4-step")
def test_genbench_pacgan4_train_step(benchmark, batches):
    model = genbench_model()
    losses = benchmark.pedantic(run_genbench, args=(model, batches), rounds=5, iterations=1, warmup_rounds=1)
    assert len(losses) == STEPS


@pytest.mark.benchmark(group="pacgan4-step")
def test_bare_torch_pacgan4_step_anchor(benchmark, batches):
    bare = Bare(genbench_model())
    losses = benchmark.pedantic(run_bare, args=(bare, batches), rounds=5, iterations=1, warmup_rounds=1)
    assert len(losses) == STEPS
