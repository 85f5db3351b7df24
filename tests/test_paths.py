"""The folders genbench reads: `--baselines DIR` means that folder for recipes and classifier weights alike."""

import hashlib
import json
import shutil

import pytest
import torch

from genbench.errors import GenbenchError
from genbench.paths import baselines_dir, source_root
from tests.conftest import REPO, assert_one_line_error, read_json

TINY = """
version = 1
dataset = "digits"
[model]
name = "gmm"
components = 2
covariance = "diag"
[train]
steps = 2
[score]
metrics = ["fid"]
n_samples = 300
"""


def copy_baselines(tmp_path, name, weights_seed=None, sha=None):
    """A copy of baselines/ with a tiny digits recipe; optionally its own digits classifier weights."""
    from safetensors.torch import save

    from genbench.features.cnn import DomainCNN

    root = tmp_path / name
    shutil.copytree(REPO / "baselines", root)
    (root / "digits" / "tiny.toml").write_text(TINY)
    meta_path = root / "digits" / "classifier.json"
    meta = json.loads(meta_path.read_text())
    if weights_seed is not None:  # another network of the same shape: other features, other FID
        torch.manual_seed(weights_seed)
        blob = save({k: v.contiguous() for k, v in DomainCNN(**meta["config"]).state_dict().items()})
        (root / "digits" / "classifier.safetensors").write_bytes(blob)
        meta["sha256"] = hashlib.sha256(blob).hexdigest()
    if sha is not None:
        meta["sha256"] = sha
    meta_path.write_text(json.dumps(meta))
    return root


def test_source_root_holds_the_package_and_the_default_baselines():
    assert (source_root() / "genbench" / "paths.py").is_file()
    assert baselines_dir().resolve() == (REPO / "baselines").resolve()


def test_an_explicit_baselines_folder_that_does_not_exist_is_refused(tmp_path):
    with pytest.raises(GenbenchError, match="baselines folder .*nope does not exist"):
        baselines_dir(tmp_path / "nope")


def test_baselines_flag_reaches_the_classifier_weights(cli, tmp_path):
    same = copy_baselines(tmp_path, "same")
    other = copy_baselines(tmp_path, "other", weights_seed=1)
    fids = []
    for root in (same, other):
        code, _, err = cli("train", "digits/tiny", "--baselines", root, "--runs", tmp_path / root.name, "-q")
        assert code == 0, err
        fids.append(read_json(tmp_path / root.name / "digits/tiny/seed0/record.json")["metrics"]["fid@digits-cnn"])
    assert fids[0] != pytest.approx(fids[1], rel=1e-3)  # the copied folder's own weights were used

    broken = copy_baselines(tmp_path, "broken", sha="0" * 64)
    code, _, err = cli("train", "digits/tiny", "--baselines", broken, "--runs", tmp_path / "runs", "-q")
    assert_one_line_error(code, err, str(broken / "digits" / "classifier.safetensors"), "weights were changed")
    assert not (tmp_path / "runs").exists()


def test_score_and_train_extractor_take_the_baselines_folder_too(cli, tmp_path):
    import numpy as np

    from genbench.data import load_dataset

    broken = copy_baselines(tmp_path, "broken", sha="0" * 64)
    np.save(tmp_path / "s.npy", load_dataset("digits").reference("test").numpy())
    code, _, err = cli("score", "--samples", tmp_path / "s.npy", "--dataset", "digits", "--metrics", "fid",
                       "--baselines", broken, "--json", tmp_path / "o.json", "-q")
    assert_one_line_error(code, err, str(broken / "digits" / "classifier.safetensors"), "weights were changed")
    assert not (tmp_path / "o.json").exists()

    code, _, err = cli("score", "--samples", tmp_path / "s.npy", "--dataset", "digits", "--baselines",
                       tmp_path / "nope", "-q")
    assert_one_line_error(code, err, "baselines folder", "nope does not exist")

    (broken / "digits" / "classifier.toml").unlink()
    code, _, err = cli("train-extractor", "digits", "--baselines", broken, "-q")
    assert_one_line_error(code, err, str(broken / "digits" / "classifier.toml"), "does not exist")
