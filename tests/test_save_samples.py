"""`score --save-samples FILE.npy`: the samples drawn here (a checkpoint's model, a --factory) are kept
as they were scored, so that `score --samples FILE.npy` gives the same sample metrics; a path that is
an input, the --json file or inside a run folder is refused in one line with nothing written."""

import numpy as np
import pytest
import torch

import genbench
from genbench.errors import GenbenchError
from tests import user_factories
from tests.conftest import assert_one_line_error, read_json
from tests.test_factory import MOD, by_batches


def rescored(cli, tmp_path, saved, dataset, *extra):
    code, _, err = cli("score", "--samples", saved, "--dataset", dataset, *extra, "--json", tmp_path / "file.json", "-q")
    assert code == 0, err
    return read_json(tmp_path / "file.json")


def test_factory_samples_saved_are_the_ones_drawn_and_rescore_alike(cli, tmp_path):
    saved = tmp_path / "drawn.npy"
    code, out, err = cli("score", "--factory", f"{MOD}:ring", "--dataset", "ring8", "--scoring-seed", "3",
                         "--device", "cpu", "--save-samples", saved, "--json", tmp_path / "gen.json", "-q")
    assert code == 0, err
    assert f"wrote the samples to {saved}" in out
    gen = read_json(tmp_path / "gen.json")
    assert gen["saved_samples"] == str(saved)
    g = torch.Generator().manual_seed(3)
    fn = user_factories.ring()
    expected = by_batches(lambda k: fn(k, g), gen["n_samples"]).numpy()
    x = np.load(saved, allow_pickle=False)
    assert x.dtype == np.float32 and x.shape == (2500, 2)
    np.testing.assert_array_equal(x, expected)
    file = rescored(cli, tmp_path, saved, "ring8")
    assert file["metrics"] == gen["metrics"] and set(gen["metrics"]) >= {"modes", "hq_fraction"}


def test_torch_fidelity_images_saved_rescore_alike(tmp_path):
    """uint8 images from a torch-fidelity wrapper are saved as scored, float in [0, 1]; Python API keyword."""
    saved = tmp_path / "digits.npy"
    gen = genbench.score(factory=f"{MOD}:digits_wrapper", dataset="digits", metrics="fid,is", n_samples=300,
                         scoring_seed=2020, save_samples=str(saved), quiet=True)
    x = np.load(saved)
    assert x.shape == (300, 1, 8, 8) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    rng, model = np.random.RandomState(2020), user_factories.digits_wrapper()  # torch-fidelity's default seed
    drawn = by_batches(lambda k: model(torch.from_numpy(rng.randn(k, 16)).float()), 300)
    np.testing.assert_array_equal(x, drawn.float().numpy() / 255)
    file = genbench.score(samples=str(saved), dataset="digits", metrics="fid,is", quiet=True)
    assert file["metrics"] == gen["metrics"]


@pytest.fixture(scope="module")
def gmm_checkpoint(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    genbench.train("ring8/gmm", seed=0, runs=str(runs), quiet=True)
    return runs, runs / "ring8/gmm/seed0/model.safetensors"


def test_checkpoint_samples_saved_rescore_alike(cli, tmp_path, gmm_checkpoint):
    """A run's checkpoint: the sample metrics of the saved samples are the checkpoint's (nll, a likelihood,
    needs the model and is not a sample metric)."""
    _, ckpt = gmm_checkpoint
    saved = tmp_path / "gmm.npy"
    code, _, err = cli("score", "--checkpoint", ckpt, "--save-samples", saved, "--json", tmp_path / "gen.json", "-q")
    assert code == 0, err
    gen = read_json(tmp_path / "gen.json")
    file = rescored(cli, tmp_path, saved, "ring8")
    assert len(np.load(saved)) == gen["n_samples"] == file["n_samples"]
    assert "nll" in gen["metrics"] and "nll" not in file["metrics"] and "modes" in file["metrics"]
    assert file["metrics"] == {k: gen["metrics"][k] for k in file["metrics"]}


def test_checkpoint_without_sample_metrics_has_nothing_to_save(cli, tmp_path, gmm_checkpoint):
    _, ckpt = gmm_checkpoint
    code, _, err = cli("score", "--checkpoint", ckpt, "--metrics", "nll", "--save-samples", tmp_path / "s.npy",
                       "--json", tmp_path / "o.json")
    assert_one_line_error(code, err, "--save-samples", "none of the metrics scored here draws samples (nll)")
    assert not (tmp_path / "s.npy").exists() and not (tmp_path / "o.json").exists()


@pytest.mark.parametrize("where, needle", [
    ("{tmp}/s.txt", "must be a .npy file"),
    ("{tmp}/o.npy", "is the --json file too"),
    ("{runs}/ring8/gmm/seed0/s.npy", "lies in the run folder"),
    ("baselines/s.npy", "lies inside --baselines"),
    ("{ckpt}", "must be a .npy file"),
])
def test_bad_save_samples_path_is_refused(cli, tmp_path, gmm_checkpoint, where, needle):
    runs, ckpt = gmm_checkpoint
    path = where.format(tmp=tmp_path, runs=runs, ckpt=ckpt)
    before = sorted(p.name for p in (runs / "ring8/gmm/seed0").iterdir())
    code, _, err = cli("score", "--factory", f"{MOD}:ring", "--dataset", "ring8", "--baselines", "baselines",
                       "--save-samples", path, "--json", tmp_path / "o.npy")  # a JSON file may be called anything
    assert_one_line_error(code, err, "--save-samples", needle)
    assert not (tmp_path / "o.npy").exists() and not (tmp_path / "s.txt").exists()
    assert sorted(p.name for p in (runs / "ring8/gmm/seed0").iterdir()) == before


def test_save_samples_goes_with_a_source_that_draws(cli, tmp_path, gmm_checkpoint):
    np.save(tmp_path / "x.npy", np.zeros((10, 2), np.float32))
    code, _, err = cli("score", "--samples", tmp_path / "x.npy", "--dataset", "ring8", "--save-samples",
                       tmp_path / "s.npy")
    assert_one_line_error(code, err, "--save-samples goes with --checkpoint or --factory", "not --samples")
    assert not (tmp_path / "s.npy").exists()
    with pytest.raises(GenbenchError, match="--save-samples must be a path"):
        genbench.score(factory=f"{MOD}:ring", dataset="ring8", save_samples=3)
