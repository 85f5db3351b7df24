"""PacGAN (Lin et al., NeurIPS 2018): packing in the GAN, the paper's maxout discriminator, and
published figures read beside the measured ones in the leaderboard."""

import copy
import math

import pytest
import torch

from genbench.leaderboard.published import attach_published
from genbench.leaderboard.records import aggregate, metric_columns
from genbench.leaderboard.table import to_csv, to_markdown
from genbench.models import build_model
from genbench.models.nets import LinearMaxout
from genbench.recipes import load_recipe, load_suite
from genbench.training import TrainConfig
from tests.conftest import assert_one_line_error, discriminator_inputs as d_inputs

PAPER_NETS = {"latent": 2, "hidden": 40, "layers": 4, "batch_norm": True, "g_activation": "relu",
              "discriminator": "maxout", "d_hidden": 20, "d_layers": 3, "maxout_pieces": 5, "init_std": 0.02}


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # reductions in a fixed order, so reference numbers are exact
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("update", ["alternating", "simultaneous"])
def test_discriminator_scores_packs_of_m_samples_never_mixing_real_and_generated(update):
    torch.manual_seed(0)
    pack, n = 3, 8
    model = build_model("gan", (2,), {**PAPER_NETS, "pack": pack, "update": update})
    model.configure_training(TrainConfig(lr=1e-4, beta1=0.8))
    real = 100 + torch.arange(pack * n * 2, dtype=torch.float32).reshape(pack * n, 2)  # far from anything G makes
    seen = d_inputs(model, real)
    assert all(x.shape == (n, pack * 2) for x in seen)
    real_inputs = [x for x in seen if (x >= 100).any()]
    assert len(real_inputs) == 1 and (real_inputs[0] >= 100).all()  # a real pack holds only real samples
    assert torch.equal(real_inputs[0], real.reshape(n, pack * 2))  # rows 3i, 3i+1, 3i+2 form input i
    assert all((x.abs() < 100).all() for x in seen if x is not real_inputs[0])  # generated packs: only generated


def test_a_batch_not_a_multiple_of_pack_drops_its_last_rows():
    model = build_model("gan", (2,), {"hidden": 8, "pack": 4})
    assert model.packed(torch.arange(22.0).reshape(11, 2)).tolist() == [list(range(8)), list(range(8, 16))]


# Computed with main's genbench/models/gan.py (before packing), torch 2.14 on the CPU, one thread:
# (loss, loss_d) of five steps and the sum and absolute sum of every float in the state dict.
MAIN_GAN = {
    "nonsaturating": ([(0.7425879836082458, 1.3806318044662476), (0.7438981533050537, 1.3851518630981445),
                       (0.7387326955795288, 1.3857240676879883), (0.7421490550041199, 1.385908603668213),
                       (0.7419496774673462, 1.3817082643508911)], 127.87289930855695, 627.3802666805241),
    "wgan-gp": ([(0.09968455880880356, 9.426836013793945), (0.09986820816993713, 9.450689315795898),
                 (0.09989925473928452, 9.421428680419922), (0.10023665428161621, 9.370637893676758),
                 (0.10055471956729889, 9.381152153015137)], -12.423702851621783, 478.73898301951704),
}
MAIN_CASES = {"nonsaturating": ({"hidden": 32, "batch_norm": True, "dropout": 0.1}, TrainConfig(lr=2e-4, beta1=0.5, grad_clip=1.0)),
              "wgan-gp": ({"hidden": 32, "loss": "wgan-gp", "critic_steps": 2}, TrainConfig(lr=1e-4, beta1=0.0, beta2=0.9))}


@pytest.mark.parametrize("kind", list(MAIN_GAN))
def test_pack_1_is_the_gan_before_packing(one_thread, kind):
    hp, cfg = MAIN_CASES[kind]
    torch.manual_seed(0)
    model = build_model("gan", (2,), {**hp, "pack": 1})
    model.configure_training(cfg)
    g, x = torch.Generator().manual_seed(1), torch.randn(64, 2, generator=torch.Generator().manual_seed(2))
    losses = [tuple(model.train_step(x, g).values()) for _ in range(5)]
    floats = [p.double() for p in model.state_dict().values() if p.is_floating_point()]
    # MKL's matmuls round differently from one CPU model to another (one thread or not), so the
    # reference holds to float32 rounding (1e-6 relative) rather than to the last bit of a sum.
    got = ([v for step in losses for v in step], sum(p.sum().item() for p in floats), sum(p.abs().sum().item() for p in floats))
    ref = MAIN_GAN[kind]
    assert got[0] == pytest.approx([v for step in ref[0] for v in step], rel=1e-6)
    assert got[1:] == pytest.approx(ref[1:], rel=1e-6)


@pytest.mark.parametrize("update", ["simultaneous", "alternating"])
def test_simultaneous_update_takes_both_gradients_before_either_player_moves(update):
    torch.manual_seed(0)
    model = build_model("gan", (2,), {**PAPER_NETS, "update": update})
    cfg = TrainConfig(lr=1e-3, beta1=0.8)
    model.configure_training(cfg)
    before = copy.deepcopy(model)
    x = torch.randn(16, 2, generator=torch.Generator().manual_seed(1))
    model.train_step(x, torch.Generator().manual_seed(2))
    # Both players' gradients at the weights before the step, on one generated batch.
    before.train()
    fake = before._fake(16, torch.Generator().manual_seed(2))
    before.d_loss(before.packed(x), before.packed(fake.detach()), None).backward(inputs=list(before.D.parameters()))
    before.g_loss(before.packed(fake)).backward(inputs=list(before.G.parameters()))
    # After one step, Adam's first moment is (1 - beta1) x the gradient it stepped on.
    def same(opt, params):
        return all(torch.allclose(opt.state[p]["exp_avg"] / (1 - cfg.beta1), q.grad, atol=1e-7)
                   for p, q in zip(opt.param_groups[0]["params"], params, strict=True))
    assert same(model.opt_d, before.D.parameters())  # D steps on the same batch either way
    # Alternating: G's gradient is taken after D moved, on fresh latents.
    assert same(model.opt_g, before.G.parameters()) == (update == "simultaneous")


def test_simultaneous_update_with_several_critic_steps_is_refused(cli, tmp_path):
    path = tmp_path / "r.toml"
    path.write_text(load_recipe("ring8/pacgan2").path.read_text().replace('update = "simultaneous"',
                                                                          'update = "simultaneous"\ncritic_steps = 2'))
    code, _, err = cli("train", path, "--runs", tmp_path / "runs")
    assert_one_line_error(code, err, "critic_steps = 2")
    assert not (tmp_path / "runs").exists()


def test_maxout_layer_is_the_max_over_its_pieces():
    torch.manual_seed(0)
    layer = LinearMaxout(3, 4, pieces=5)
    x = torch.randn(7, 3)
    w, b = layer.linear.weight, layer.linear.bias
    expected = torch.stack([torch.stack([x @ w[i * 5 + j] + b[i * 5 + j] for j in range(5)]).amax(0)
                            for i in range(4)], dim=1)
    assert torch.allclose(layer(x), expected)
    assert layer(x).shape == (7, 4)


def test_paper_discriminator_has_three_maxout_layers_and_normal_init():
    model = build_model("gan", (2,), {**PAPER_NETS, "pack": 4, "d_hidden": 200, "hidden": 400})
    maxouts = [m for m in model.D if isinstance(m, LinearMaxout)]
    assert [(m.linear.in_features, m.linear.out_features) for m in maxouts] == [(8, 1000), (200, 1000), (200, 1000)]
    assert model.D[-1].in_features == 200 and model.D[-1].out_features == 1
    assert abs(model.G[0].weight.std().item() - 0.02) < 0.004 and model.G[0].bias.abs().max() == 0
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in model.G) == 4
    assert sum(isinstance(m, torch.nn.ReLU) for m in model.G) == 4


def test_pacgan_suites_are_the_papers_grid_of_settings():
    for suite, steps in (("pacgan", 4000), ("pacgan-paper", 400_000)):
        _, recipes = load_suite(suite)
        assert sorted((r.dataset, r.model_params["pack"]) for r in recipes) == sorted(
            (d, m) for d in ("ring8", "grid25") for m in (1, 2, 3, 4))
        for r in recipes:
            m = r.model_params["pack"]
            assert r.seeds == list(range(10)) and r.metrics == ["coverage"] and r.n_samples == 2500
            # 100 D inputs a step: pack x 100 samples, or 100 packs of a resampled pool (the paper's code)
            d_inputs = r.train.batch_size // (1 if r.model_params.get("real_packs") == "resampled" else m)
            assert d_inputs == 100 and r.train.steps == steps and r.dataset_params["n_train"] == 100_000
            assert (r.train.lr, r.train.beta1, r.train.beta2) == (1e-4, 0.8, 0.999)
            assert r.published.trials == 10 and set(r.published.values) == {"modes", "hq_fraction", "reverse_kl"}
            assert 0 < r.published.values["hq_fraction"][0] < 1  # a fraction, as the metric reports it


PUBLISHED_RECIPE = """
version = 1
dataset = "ring8"
seeds = [0, 1, 2]
[model]
name = "gmm"
components = 8
[score]
metrics = ["coverage"]
[published]
source = "A paper"
table = "Table 9"
trials = 4
spread = "standard deviation"
protocol = "a shorter run"
[published.values]
modes = {value = 6.0, spread = 2.0}
reverse_kl = {value = 0.5, spread = 0.0}
"""


def records(recipe):
    return [{"recipe": recipe.id, "recipe_hash": recipe.hash, "seed": s, "dataset": "ring8", "model": "gmm",
             "metrics": {"modes": m, "hq_fraction": 0.9, "reverse_kl": 0.5}, "score": {"samples": 2500},
             "train": {"wall_time_s": 1.0}} for s, m in enumerate([6, 7, 8])]


def test_published_figures_render_with_the_z_of_the_combined_standard_error(tmp_path):
    path = tmp_path / "ring8" / "p.toml"
    path.parent.mkdir()
    path.write_text(PUBLISHED_RECIPE)
    recipe = load_recipe(path, baselines=tmp_path)
    frame = attach_published(aggregate(records(recipe)), [recipe])
    # measured 7 ± 1 over 3 seeds: se 1/sqrt(3); published sd 2 over 4 trials: se 1.
    z = (7 - 6) / math.sqrt(1 / 3 + 1)
    row = frame.iloc[0]
    assert row["modes_published"] == 6.0 and row["modes_published_se"] == 1.0 and row["modes_z"] == pytest.approx(z)
    assert math.isnan(row["reverse_kl_z"])  # both spreads zero: no scale to measure the distance in
    assert metric_columns(frame) == ["modes", "hq_fraction", "reverse_kl"]  # the gate sees only metrics
    csv = to_csv(frame)
    assert "modes_published,modes_published_se,modes_z" in csv and f"{z:.8g}" in csv
    md = to_markdown(frame, "t", "", records(recipe), {}, [])
    line = next(ln for ln in md.splitlines() if ln.startswith("| ↳ published"))
    assert "A paper, Table 9 (4 trials, ± standard deviation); this run: a shorter run" in line
    assert "| 6 ± 1 (z = +0.9) |" in line and "| 0.5 ± 0 |" in line
    assert md.index("`ring8/p`") < md.index("↳ published")


def test_published_figures_are_not_part_of_the_recipe_hash(tmp_path):
    (tmp_path / "a.toml").write_text(PUBLISHED_RECIPE)
    (tmp_path / "b.toml").write_text(PUBLISHED_RECIPE.split("[published]")[0])
    assert load_recipe(tmp_path / "a.toml").hash == load_recipe(tmp_path / "b.toml").hash


@pytest.mark.parametrize("edit, needle", [
    (lambda t: t.replace('table = "Table 9"', 'tabel = "Table 9"'), "unknown key 'tabel'"),
    (lambda t: t.replace('table = "Table 9"\n', ""), "missing required key 'table'"),
    (lambda t: t.replace("trials = 4", "trials = 0"), "'trials' must be a positive integer"),
    (lambda t: t.replace('"standard deviation"', '"std"'), "unknown spread kind 'std'"),
    (lambda t: t.replace("modes = {", "mode = {"), "unknown metric output 'mode'"),
    (lambda t: t.replace("modes = {", "fid = {"), "unknown metric output 'fid'"),
    (lambda t: t.replace("{value = 6.0, spread = 2.0}", "[6.0, 2.0]"), "values.modes must be {value"),
    (lambda t: t.replace("{value = 6.0, spread = 2.0}", '{value = "6", spread = 2.0}'), "values.modes must be {value"),
    (lambda t: t.replace("spread = 2.0", "spread = -2.0"), "spread must be >= 0"),
])
def test_malformed_published_table_is_a_one_line_error(cli, tmp_path, edit, needle):
    path = tmp_path / "r.toml"
    path.write_text(edit(PUBLISHED_RECIPE))
    code, _, err = cli("train", path, "--runs", tmp_path / "runs")
    assert_one_line_error(code, err, "[published]", needle)
    assert not (tmp_path / "runs").exists()
