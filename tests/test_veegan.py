"""VEEGAN (Srivastava et al., NeurIPS 2017): the reconstructor's l2 term, the discriminator on (z, x)
pairs, its GAN baseline under the same protocol, the ring of its notebook, and the Table 1 recipes."""

import dataclasses
import math

import pytest
import torch

from genbench.data import load_dataset
from genbench.metrics.coverage import mode_histogram
from genbench.models import build_model
from genbench.recipes import load_recipe, load_suite
from genbench.training import TrainConfig
from tests.conftest import assert_edited_recipe_refused, discriminator_inputs as d_inputs

TINY = {"latent": 3, "eps_dim": 1, "hidden": 8, "layers": 2, "d_hidden": 8, "d_layers": 1}


def tiny(**extra):
    torch.manual_seed(0)
    model = build_model("veegan", (2,), {**TINY, **extra})
    model.configure_training(TrainConfig(lr=1e-3, beta1=0.5))
    return model




def test_reconstruction_term_is_half_the_squared_l2_of_z_and_its_gradient_reaches_only_f_and_g():
    model = tiny(reconstruction=2.0)
    out = model.F[-1]
    torch.nn.init.zeros_(out.weight)
    torch.nn.init.zeros_(out.bias)  # F = 0, so d(z, F(G(z))) = ||z||^2 / 2
    x = torch.randn(16, 2)
    z, _ = model.prior(16, torch.Generator().manual_seed(5))
    losses = model.losses(x, torch.Generator().manual_seed(5))
    assert losses["recon"].item() == pytest.approx(0.5 * z.pow(2).sum(1).mean().item(), rel=1e-6)
    losses["loss"].backward(inputs=list(model.F.parameters()) + list(model.G.parameters()))
    # d/dF of lambda * mean ||z - F||^2 / 2 is -lambda * mean (z - F): F's output bias sees exactly that
    assert torch.allclose(out.bias.grad, -2.0 * z.mean(0), atol=1e-6)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.G.parameters())


def test_discriminator_loss_never_reaches_the_reconstructor_or_the_generator():
    model = tiny()
    losses = model.losses(torch.randn(16, 2), torch.Generator().manual_seed(0))
    losses["loss_d"].backward()
    assert all(p.grad is None for p in list(model.F.parameters()) + list(model.G.parameters()))
    assert all(p.grad is not None for p in model.D.parameters())


def test_discriminator_sees_z_x_pairs_generated_with_the_prior_z_and_real_with_f_of_x():
    model = tiny()
    real = 100 + torch.arange(32, dtype=torch.float32).reshape(16, 2)  # far from anything G makes
    z, _ = model.prior(16, torch.Generator().manual_seed(3))
    with torch.no_grad():
        f_real = model.F(real)
    seen = d_inputs(model, real, seed=3)
    assert len(seen) == 3 and all(s.shape == (16, 3 + 2) for s in seen)
    gen, rec, gen_again = seen
    assert torch.equal(gen[:, :3], z) and torch.equal(gen_again, gen)  # (z, G(z, eps)), twice at the same weights
    assert (gen[:, 3:].abs() < 100).all()
    assert torch.equal(rec[:, 3:], real)  # (z_r, x) with x the real batch
    noise = rec[:, :3] - f_real  # z_r = F(x) + N(0, I): a sample around F(x), not F(x) itself
    assert noise.abs().max() > 0.1 and abs(noise.std().item() - 1) < 0.5


def test_the_gan_baseline_has_no_reconstructor_and_d_sees_x_alone():
    model = tiny(joint=False, reconstruction=0.0)
    assert model.F is None and not any("F." in n for n, _ in model.named_parameters())
    real = 100 + torch.arange(32, dtype=torch.float32).reshape(16, 2)
    seen = d_inputs(model, real)
    assert [s.shape for s in seen] == [(16, 2)] * 3 and torch.equal(seen[1], real)
    stats = model.train_step(real, torch.Generator().manual_seed(1))
    assert stats["recon"] == 0.0 and math.isfinite(stats["loss"])


def test_xavier_init_is_glorot_uniform_with_zero_biases():
    model = tiny()
    layer = model.G[0]
    bound = math.sqrt(6 / (layer.in_features + layer.out_features))
    assert layer.weight.abs().max() <= bound and layer.weight.abs().max() > 0.8 * bound
    assert all(torch.count_nonzero(m.bias) == 0 for m in model.modules() if isinstance(m, torch.nn.Linear))


def test_both_players_step_from_the_same_weights():
    """Algorithm 1: D's gradient and G's are taken before either moves, so G's first step does not
    depend on whether D stepped: freezing D (lr 0) leaves G's update unchanged."""
    batch = torch.randn(16, 2)
    moved = []
    for d_lr in (1e-3, 0.0):
        model = tiny()
        for group in model.opt_d.param_groups:
            group["lr"] = d_lr
        model.train_step(batch, torch.Generator().manual_seed(0))
        moved.append(torch.cat([p.detach().flatten() for p in model.G.parameters()]))
    assert torch.equal(moved[0], moved[1])


def test_veegan_ring_geometry():
    ds = load_dataset("ring8-veegan", {"n_train": 20000})
    assert ds.n_modes == 8 and ds.mode_std == 0.05
    assert torch.allclose(ds.modes.norm(dim=1), torch.full((8,), 4.0))
    angles = torch.atan2(ds.modes[:, 1], ds.modes[:, 0]).remainder(2 * math.pi)
    assert torch.allclose(angles, torch.arange(8) * math.pi / 4, atol=1e-6)
    nearest = torch.cdist(ds.train, ds.modes).argmin(1)
    offset = ds.train - ds.modes[nearest]
    assert offset.std(0).sub(0.05).abs().max() < 0.003  # std 0.05 in each coordinate
    counts = torch.bincount(nearest, minlength=8)
    assert counts.min() > 0.9 * 20000 / 8  # equal weights


def test_veegan_grid_is_grid25():
    ds = load_dataset("grid25")
    axis = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    assert torch.equal(ds.modes, torch.cartesian_prod(axis, axis)) and ds.mode_std == 0.05


def test_coverage_is_veegans_definition_high_quality_within_3_std_of_the_nearest_mode():
    modes, std = torch.tensor([[0.0, 0.0], [4.0, 0.0]]), 0.05
    samples = torch.tensor([[2.9 * std, 0.0], [4.0 - 3.1 * std, 0.0], [0.0, 2.99 * std], [2.0, 0.0]])
    counts, n_hq = mode_histogram(samples, modes, std)
    assert n_hq == 2 and counts.tolist() == [2, 0]  # the mode at 4 is nearest to one sample, not a high-quality one


@pytest.mark.parametrize("recipe_id, joint, published", [
    ("grid25/veegan", True, (24.6, 0.40)), ("grid25/gan-veegan", False, (3.3, 0.005)),
    ("ring8-veegan/veegan", True, (8, 0.529)), ("ring8-veegan/gan-veegan", False, (1, 0.993)),
])
def test_table_1_recipes_load_with_the_notebooks_protocol_and_the_published_line(recipe_id, joint, published):
    r = load_recipe(recipe_id)
    assert r.model == "veegan" and r.model_params["joint"] is joint and r.seeds == [0, 1, 2]
    assert (r.train.steps, r.train.batch_size, r.train.lr, r.train.beta1) == (100000, 500, 1e-3, 0.5)
    assert r.model_params["latent"] + r.model_params["eps_dim"] == 255 and r.n_samples == 2500
    assert r.published.values["modes"][0] == published[0] and r.published.values["hq_fraction"][0] == published[1]
    assert r.published.trials == 5 and "not confirmed" in r.published.protocol
    assert recipe_id in load_suite("veegan")[0]["recipes"]


@pytest.mark.parametrize("old, new, needle", [
    ("reconstruction = 1.0", "reconstruction = 0.0", "give reconstruction > 0"),
    ('init = "xavier"', 'init = "glorot"', "'init'"),
    ("eps_dim = 1 ", "eps_dim = -1 ", "'eps_dim'"),
])
def test_bad_options_are_refused_in_one_line(cli, tmp_path, old, new, needle):
    assert_edited_recipe_refused(cli, tmp_path, "grid25/veegan", old, new, needle)


def test_a_few_steps_end_to_end_are_deterministic(tmp_path):
    from genbench.runs import run_recipe

    recipe = load_recipe("ring8-veegan/veegan")
    short = dataclasses.replace(recipe, train=dataclasses.replace(recipe.train, steps=3, checkpoint_every=3),
                                dataset_params={"n_train": 2000}, n_samples=500)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        a = run_recipe(short, 0, runs=tmp_path / "a", device="cpu", progress=False)
        b = run_recipe(short, 0, runs=tmp_path / "b", device="cpu", progress=False)
    finally:
        torch.set_num_threads(threads)
    assert a["train"]["steps"] == 3 and set(a["metrics"]) == {"modes", "hq_fraction", "reverse_kl"}
    assert a["metrics"] == b["metrics"] and a["train"]["final"] == b["train"]["final"]
