import json
from pathlib import Path

import pytest
import torch

from genbench.cli.main import main

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def _session_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("genbench-cache")


@pytest.fixture(autouse=True)
def _run_in_repo(monkeypatch, _session_cache):
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("GENBENCH_CACHE", str(_session_cache))  # never the user's ~/.cache
    monkeypatch.delenv("GENBENCH_BASELINES", raising=False)
    monkeypatch.setenv("GENBENCH_OFFLINE", "1")  # tests never download


@pytest.fixture
def cli(capsys):
    """Run the CLI in-process: returns (exit code, stdout, stderr)."""

    def run(*args):
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


class TensorImages(torch.utils.data.Dataset):
    """A torch-style dataset over an image tensor, as torch-fidelity's calculate_metrics takes."""

    def __init__(self, x):
        self.x = x

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i]


def discriminator_inputs(model, batch, seed=0):
    """Every input a two-player model's discriminator `model.D` saw during one train_step."""
    seen = []
    hook = model.D.register_forward_hook(lambda mod, args, out: seen.append(args[0].detach().clone()))
    model.train_step(batch, torch.Generator().manual_seed(seed))
    hook.remove()
    return seen


def read_json(path):
    return json.loads(Path(path).read_text())


def assert_one_line_error(code, err, *needles):
    assert code == 2
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("genbench: error: ")
    assert "Traceback" not in err
    for n in needles:
        assert n in lines[0], (n, lines[0])


def assert_edited_recipe_refused(cli, tmp_path, recipe_id, old, new, *needles):
    """`genbench train` on `recipe_id` with `old` replaced by `new` fails in one line and writes nothing."""
    from genbench.recipes import load_recipe

    path = tmp_path / "r.toml"
    path.write_text(load_recipe(recipe_id).path.read_text().replace(old, new))
    code, _, err = cli("train", path, "--runs", tmp_path / "runs")
    assert_one_line_error(code, err, *needles)
    assert not (tmp_path / "runs").exists()
