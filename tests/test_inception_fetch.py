"""Inception-v3 weights come through the one checksum-verified fetch path: a download whose SHA-256
differs is refused before anything unpickles it or writes it; `genbench fetch` prefetches;
--inception-weights where no Inception extractor runs is an error."""

import hashlib

import numpy as np
import pytest
import torch

import genbench.features.inception as inception
from genbench.data import load_dataset
from tests.conftest import assert_one_line_error


@pytest.fixture
def online(tmp_path, monkeypatch):
    """Online, with the weights' URL a local file (a real pickle), and empty caches."""
    fake = tmp_path / "served" / inception.FILE
    fake.parent.mkdir()
    torch.save({"not": torch.zeros(3)}, fake)
    monkeypatch.setattr(inception, "URL", fake.as_uri())
    monkeypatch.delenv("GENBENCH_OFFLINE")
    monkeypatch.delenv("GENBENCH_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.setenv("GENBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    loads = []
    monkeypatch.setattr(torch, "load", lambda *a, **k: loads.append(a))
    return fake, tmp_path / "cache" / "inception" / inception.FILE, loads


def test_download_with_the_wrong_hash_is_refused_unread(cli, tmp_path, online):
    fake, cached, loads = online
    np.save(tmp_path / "s.npy", load_dataset("digits").reference("test").numpy())
    code, _, err = cli("score", "--samples", tmp_path / "s.npy", "--dataset", "digits", "--metrics", "fid",
                       "--extractor", "inception-v3-compat", "--json", tmp_path / "o.json")
    digest = hashlib.sha256(fake.read_bytes()).hexdigest()
    assert_one_line_error(code, err, f"download failed: {fake.as_uri()}: SHA-256 {digest[:16]}… does not match",
                          inception.SHA256)
    assert_one_line_error(*cli("fetch", "inception")[::2], "does not match")
    assert not loads and not cached.exists() and not (tmp_path / "o.json").exists()


def test_fetch_downloads_once_into_the_cache(cli, online, monkeypatch):
    fake, cached, loads = online
    monkeypatch.setattr(inception, "SHA256", hashlib.sha256(fake.read_bytes()).hexdigest())
    code, out, err = cli("fetch", "inception")
    assert code == 0, err
    assert cached.read_bytes() == fake.read_bytes() and str(cached) in out
    fake.unlink()  # no second download: the verified copy in the cache is used
    code, out, err = cli("fetch", "inception")
    assert code == 0 and str(cached) in out, err
    assert not loads


def test_fetch_a_dataset_lists_its_verified_files(cli):
    code, out, err = cli("fetch", "shakespeare-char")
    assert code == 0, err
    assert "tinyshakespeare.txt (SHA-256 verified)" in out
    code, out, _ = cli("fetch", "digits")
    assert code == 0 and "nothing to fetch" in out
    assert_one_line_error(*cli("fetch", "inceptoin")[::2], "did you mean 'inception'?")


@pytest.mark.parametrize("args", [
    ["--samples", "S", "--dataset", "digits"],  # the dataset's default extractor is digits-cnn
    ["--samples", "S", "--dataset", "digits", "--extractor", "digits-cnn"],
    ["--factory", "tests.user_factories:ring", "--dataset", "ring8"],  # no extractor at all
    ["--text", "S", "--refs", "S"],
])
def test_inception_weights_without_an_inception_extractor(cli, tmp_path, args):
    np.save(tmp_path / "s.npy", load_dataset("digits").reference("test").numpy())
    (tmp_path / "w.pth").write_bytes(b"x")
    args = [str(tmp_path / "s.npy") if a == "S" else a for a in args]
    code, _, err = cli("score", *args, "--inception-weights", tmp_path / "w.pth", "--json", tmp_path / "o.json")
    assert_one_line_error(code, err, "--inception-weights is for the inception-v3-compat extractor",
                          "pass --extractor inception-v3-compat or drop --inception-weights")
    assert not (tmp_path / "o.json").exists()
