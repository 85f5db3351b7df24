"""PacGAN's 2-D protocol as its code (fjxmlzn/PacGAN, synthetic_data_experiments, on Blocks and ALI)
sets it, point by point: what the `*-paper` recipes ask for and what the GAN model then does."""

import itertools
import math

import pytest
import torch

from genbench.data import load_dataset
from genbench.metrics.coverage import ModeCoverage
from genbench.models import build_model
from genbench.models.gan import SlotBatchNorm
from genbench.recipes import load_recipe, load_suite
from genbench.training import TrainConfig, fit

CODE = {"latent": 2, "hidden": 40, "layers": 4, "batch_norm": True, "g_activation": "relu",
        "discriminator": "maxout", "d_hidden": 20, "d_layers": 3, "maxout_pieces": 5, "init_std": 0.02,
        "update": "simultaneous", "g_bias": False, "bn_momentum": 0.05, "fake_draws": "per_slot",
        "real_packs": "resampled"}


def model_of(pack, **over):
    torch.manual_seed(0)
    model = build_model("gan", (2,), {**CODE, "pack": pack, **over})
    model.configure_training(TrainConfig(lr=1e-4, beta1=0.8))
    return model


def first_bn_inputs(model, batch):
    seen = []
    bn = next(m for m in model.G if isinstance(m, SlotBatchNorm | torch.nn.BatchNorm1d))
    hook = bn.register_forward_hook(lambda mod, args, out: seen.append((args[0].detach().clone(), out.detach())))
    model.train_step(batch, torch.Generator().manual_seed(1))
    hook.remove()
    return seen


@pytest.mark.parametrize("pack", [1, 2, 4])
def test_batch_norm_statistics_are_over_100_samples_whatever_the_pack(pack):
    model = model_of(pack)
    rows = model.training_rows(torch.randn(1000, 2), torch.Generator().manual_seed(0))
    (x, y), = first_bn_inputs(model, rows[:100])
    assert x.shape[-2] == 100 and x.numel() == pack * 100 * 40  # pack calls of 100 draws each
    flat = y.reshape(pack, 100, 40)
    torch.testing.assert_close(flat.mean(1), torch.zeros(pack, 40), atol=1e-5, rtol=0)  # each call on its own
    var = x.reshape(pack, 100, 40).var(1, unbiased=False)
    torch.testing.assert_close(flat.var(1, unbiased=False), var / (var + 1e-4), atol=1e-4, rtol=0)


def test_joint_draws_put_all_pack_x_100_fakes_in_one_batch_norm():
    model = model_of(4, fake_draws="joint")
    (x, _), = first_bn_inputs(model, model.training_rows(torch.randn(1000, 2), torch.Generator())[:100])
    assert x.shape == (400, 40)


def test_slot_j_of_every_fake_pack_is_the_jth_g_call():
    model = model_of(3)
    model.train()
    z = torch.randn(300, 2, generator=torch.Generator().manual_seed(3))
    packs = model.packed(model._from_latents(z))
    assert packs.shape == (100, 6)
    alone = torch.nn.Sequential(*model.G)  # the same weights, one call on slot 1's 100 latents
    torch.testing.assert_close(packs[:, 2:4], alone(z[100:200]), atol=1e-6, rtol=0)


def test_population_statistics_move_by_005_of_the_slots_mean_statistic_per_step():
    model = model_of(2)
    bn = next(m for m in model.G if isinstance(m, SlotBatchNorm))
    rows = model.training_rows(torch.randn(1000, 2), torch.Generator().manual_seed(0))
    (x, _), = first_bn_inputs(model, rows[:100])
    x = x.reshape(2, 100, 40)
    mean = x.mean(1).mean(0)
    std = (x.var(1, unbiased=False) + 1e-4).sqrt().mean(0)
    torch.testing.assert_close(bn.running_mean, 0.05 * mean, atol=1e-6, rtol=0)
    torch.testing.assert_close(bn.running_std, 0.95 + 0.05 * std, atol=1e-6, rtol=0)


def test_samples_use_the_population_statistics_not_the_batchs():
    model = model_of(2)
    for bn in (m for m in model.G if isinstance(m, SlotBatchNorm)):
        bn.running_mean.fill_(0.3)
        bn.running_std.fill_(2.0)
    many = model.sample(500, torch.Generator().manual_seed(4))
    few = model.sample(3, torch.Generator().manual_seed(4))
    torch.testing.assert_close(few, many[:3])  # a sample does not depend on its batch


def test_real_packs_are_independent_resamplings_with_replacement_side_by_side():
    pool = torch.arange(2000.0).reshape(1000, 2)  # point i is (2i, 2i + 1)
    packs = model_of(3).training_rows(pool, torch.Generator().manual_seed(0))
    assert packs.shape == (1000, 6)
    ids = packs[:, 0::2] / 2  # which point sits in each slot
    assert torch.equal(packs[:, 1::2], packs[:, 0::2] + 1)  # whole points, never mixed
    for j in range(3):
        distinct = len(ids[:, j].unique())
        assert 580 < distinct < 680  # drawn with replacement: about 1 - 1/e of 1000 distinct
    assert not torch.equal(ids[:, 0], ids[:, 1])  # slots drawn independently
    assert (ids[:, 0] + 1 != ids[:, 1]).float().mean() > 0.99  # not consecutive rows


def test_the_trainer_feeds_d_rows_of_the_fixed_pool_100_packs_a_step():
    data = load_dataset("ring8", {"n_train": 1000})
    model = model_of(2, hidden=8, d_hidden=8)
    pool = model.training_rows(data.train, torch.Generator().manual_seed(5))
    seen = []
    hook = model.D.register_forward_hook(lambda mod, args, out: seen.append(args[0].detach().clone()))
    fit(model, data, TrainConfig(steps=3, batch_size=100, lr=1e-4, beta1=0.8), torch.Generator().manual_seed(5),
        progress=False)
    hook.remove()
    reals = seen[0::3]  # each step: D on the real packs, the fakes, then G's fakes through held D
    assert all(r.shape == (100, 4) for r in reals)
    pool_rows = {tuple(row.tolist()) for row in pool}
    assert all(tuple(row.tolist()) in pool_rows for r in reals for row in r)


def test_g_hidden_layers_have_no_bias_its_output_layer_does_and_init_is_normal_002():
    model = model_of(2, hidden=400, d_hidden=200)
    linears = [m for m in model.G if isinstance(m, torch.nn.Linear)]
    assert [m.bias is None for m in linears] == [True, True, True, True, False]
    assert linears[-1].bias.abs().max() == 0
    for m in linears + [model.D[-1]] + [x.linear for x in model.D[:-1]]:
        assert abs(m.weight.std().item() - 0.02) < 0.003
    bns = [m for m in model.G if isinstance(m, SlotBatchNorm)]
    assert len(bns) == 4 and all(bool((b.weight == 1).all() and (b.bias == 0).all()) for b in bns)
    assert not any(isinstance(m, torch.nn.Dropout) for m in model.modules())


def test_the_paper_recipes_ask_for_the_codes_protocol():
    _, recipes = load_suite("pacgan-paper")
    for r in recipes:
        p, t = r.model_params, r.train
        assert r.version >= 2
        assert {k: p[k] for k in CODE if k not in ("hidden", "d_hidden")} == {
            k: v for k, v in CODE.items() if k not in ("hidden", "d_hidden")}
        assert (p["hidden"], p["d_hidden"]) == (400, 200)
        assert (t.lr, t.beta1, t.beta2, t.batch_size, t.steps, t.ema) == (1e-4, 0.8, 0.999, 100, 400_000, 0.0)
        assert r.dataset_params == {"n_train": 100_000}  # 400 epochs of 1000 steps of 100 packs
        assert r.n_samples == 2500 and r.curve_every == 1000  # the code scores 2500 samples every epoch
        assert "kept apart" in r.published.protocol  # what is not as the code, named with its reason


def test_the_modes_are_the_codes():
    grid = load_dataset("grid25")
    means = [[i, j] for i, j in itertools.product(range(-4, 5, 2), range(-4, 5, 2))]
    assert sorted(grid.modes.tolist()) == sorted(map(lambda m: [float(v) for v in m], means))
    assert grid.mode_std == 0.05
    ring = load_dataset("ring8")
    expected = torch.tensor([[math.cos(k * math.pi * 2 / 8), math.sin(k * math.pi * 2 / 8)] for k in range(8)])
    torch.testing.assert_close(ring.modes, expected)
    assert ring.mode_std == 0.01


def test_high_quality_and_reverse_kl_as_the_codes_metric_logger_computes_them():
    data = load_dataset("grid25")
    g = torch.Generator().manual_seed(0)
    x = data.modes[torch.randint(0, 7, (2500,), generator=g)] + 0.09 * torch.randn(2500, 2, generator=g)
    # The code's loop: nearest mode by sqrt(sum(d^2 / var)), counted when under 3.
    detail = [0] * 25
    for point in x.tolist():
        dis = [math.sqrt(sum((a - b) ** 2 / 0.05 ** 2 for a, b in zip(point, m, strict=True))) for m in data.modes.tolist()]
        j = min(range(25), key=dis.__getitem__)
        if dis[j] < 3:
            detail[j] += 1
    total = sum(detail)
    entropy = -sum(c / total * math.log(c / total) for c in detail if c)  # its "entropy of coverage"
    got = ModeCoverage().compute(x, data)
    assert got["modes"] == sum(c > 0 for c in detail)
    assert got["hq_fraction"] == total / 2500
    assert got["reverse_kl"] == pytest.approx(math.log(25) - entropy, abs=1e-12)  # KL(q || uniform)


def test_the_paper_recipe_builds_the_codes_networks():
    r = load_recipe("grid25/pacgan2-paper")
    model = build_model(r.model, (2,), r.model_params)
    assert sum(p.numel() for p in model.G.parameters()) == 2 * 400 + 3 * 400 * 400 + 400 * 2 + 2 + 4 * 2 * 400
    assert [m.linear.in_features for m in model.D[:-1]] == [4, 200, 200]
    assert isinstance(model.G[1], SlotBatchNorm) and model.G[1].momentum == 0.05 and model.G[1].eps == 1e-4
