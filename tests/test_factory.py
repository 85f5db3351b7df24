"""`genbench score --factory pkg.module:build`: a user's model is scored exactly as its samples
saved to a file would be, and a broken one is refused in one line with nothing written."""

import numpy as np
import pytest
import torch

import genbench
from genbench.factories import BATCH
from tests import user_factories
from tests.conftest import assert_one_line_error, read_json

MOD = "tests.user_factories"


def by_batches(sample, n):
    """What genbench draws: n samples in batches of BATCH from one sampler."""
    return torch.cat([sample(min(BATCH, n - i)) for i in range(0, n, BATCH)])


def score_both(cli, tmp_path, samples, *args):
    """Metrics of --factory ARGS and of `samples` saved to .npy and scored as a file."""
    np.save(tmp_path / "s.npy", samples.numpy())
    code, _, err = cli("score", *args, "--json", tmp_path / "gen.json", "-q")
    assert code == 0, err
    dataset = args[args.index("--dataset") + 1]
    rest = [a for a in args[args.index("--dataset") + 2:] if a not in ("--scoring-seed", "3", "--device", "cpu")]
    code, _, err = cli("score", "--samples", tmp_path / "s.npy", "--dataset", dataset, *rest,
                       "--json", tmp_path / "file.json", "-q")
    assert code == 0, err
    return read_json(tmp_path / "gen.json"), read_json(tmp_path / "file.json")


def test_callable_generator_equals_its_samples_file(cli, tmp_path):
    g = torch.Generator().manual_seed(3)
    fn = user_factories.ring(radius=0.99)
    samples = by_batches(lambda k: fn(k, g), 2500)  # coverage's protocol count
    gen, file = score_both(cli, tmp_path, samples, "--factory", f"{MOD}:ring", "--factory-kwargs",
                           '{"radius": 0.99}', "--dataset", "ring8", "--scoring-seed", "3", "--device", "cpu")
    assert gen["metrics"] == file["metrics"] and gen["n_samples"] == 2500
    assert gen["metrics"]["modes"] == 8
    assert (gen["factory"], gen["factory_kwargs"], gen["scoring_seed"]) == (f"{MOD}:ring", {"radius": 0.99}, 3)


def test_torch_fidelity_model_equals_its_samples_file(cli, tmp_path):
    """A torch_fidelity GenerativeModelModuleWrapper: noise drawn as torch-fidelity draws it."""
    rng, model = np.random.RandomState(3), user_factories.digits_wrapper()
    samples = by_batches(lambda k: model(torch.from_numpy(rng.randn(k, 16)).float()), 300)  # uint8 images
    assert samples.dtype == torch.uint8
    gen, file = score_both(cli, tmp_path, samples, "--factory", f"{MOD}:digits_wrapper", "--dataset", "digits",
                           "--metrics", "fid,is", "--n-samples", "300", "--scoring-seed", "3")
    assert gen["metrics"] == file["metrics"] and set(gen["metrics"]) == {"fid@digits-cnn", "is@digits-cnn"}


def test_module_with_sample_and_python_api(tmp_path):
    """An nn.Module with sample(n, generator), given to genbench.score as the factory itself."""
    a = genbench.score(factory=user_factories.Ring, factory_kwargs={"radius": 0.9}, dataset="ring8", scoring_seed=3,
                       device="cpu", quiet=True)
    b = genbench.score(factory=f"{MOD}:ring", factory_kwargs='{"radius": 0.9}', dataset="ring8", scoring_seed=3,
                       device="cpu", quiet=True)
    assert a["metrics"] == b["metrics"] and a["factory"] == f"{MOD}:Ring"
    c = genbench.score(factory=f"{MOD}:numpy_array", dataset="ring8", n_samples=10, quiet=True)
    assert c["n_samples"] == 10


@pytest.mark.parametrize("spec, extra, needle", [
    ("no_such_package.models:build", [], "cannot import 'no_such_package.models' (ModuleNotFoundError"),
    (f"{MOD}:rign", [], "unknown function 'rign'; valid functions: "),
    (f"{MOD}:rign", [], "(did you mean 'ring'?)"),
    (MOD, [], "must be pkg.module:build"),
    (f"{MOD}:NOT_CALLABLE", [], "is a int, not a function"),
    (f"{MOD}:wrong_shape", [], "samples from --factory tests.user_factories:wrong_shape have shape (2500, 3)"),
    (f"{MOD}:nan", [], "contain NaN or inf in 39 of 2500 rows"),
    (f"{MOD}:wrong_count", [], "returned (5, 2) when asked for 64 samples"),
    (f"{MOD}:not_a_tensor", [], "returned a list; expected a tensor"),
    (f"{MOD}:fails", [], "failed drawing 64 samples (ZeroDivisionError: division by zero at user_factories.py:"),
    (f"{MOD}:bare_module", [], "GenerativeModelModuleWrapper"),
    (f"{MOD}:ring", ["--factory-kwargs", '{"radius": 1'], "--factory-kwargs is not valid JSON"),
    (f"{MOD}:ring", ["--factory-kwargs", "[1]"], "must be a JSON object"),
    (f"{MOD}:ring", ["--factory-kwargs", '{"radius2": 1}'], "unexpected keyword argument 'radius2'"),
    (f"{MOD}:ring", ["--metrics", "nll"], "metric 'nll' does not apply"),
])
def test_bad_factory(cli, tmp_path, spec, extra, needle):
    code, _, err = cli("score", "--factory", spec, "--dataset", "ring8", *extra, "--json", tmp_path / "o.json")
    assert_one_line_error(code, err, needle)
    assert not (tmp_path / "o.json").exists()


def test_module_that_fails_to_import(cli, tmp_path, monkeypatch):
    (tmp_path / "broken_user_module.py").write_text("import torch\nraise RuntimeError('no GPU here\\nreally')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    code, _, err = cli("score", "--factory", "broken_user_module:build", "--dataset", "ring8",
                       "--json", tmp_path / "o.json")
    assert_one_line_error(code, err, "cannot import 'broken_user_module' (RuntimeError: no GPU here really at "
                                     "broken_user_module.py:2)")
    assert not (tmp_path / "o.json").exists()


@pytest.mark.parametrize("args, needle", [
    (["--factory", f"{MOD}:ring"], "--factory needs --dataset"),
    (["--samples", "x.npy", "--dataset", "ring8", "--factory-kwargs", "{}"], "--factory-kwargs goes with --factory"),
])
def test_factory_flags_go_together(cli, args, needle):
    assert_one_line_error(*cli("score", *args)[::2], needle)
