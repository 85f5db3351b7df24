"""The one loader: local first, checksum always, a clear error naming what to get and where."""

import hashlib

import pytest

from genbench.data.fetch import Resource, fetch
from genbench.errors import GenbenchError

DATA = b"genbench test payload\n"
RES = Resource(name="payload.bin", sha256=hashlib.sha256(DATA).hexdigest(), urls=("https://example.org/payload.bin",),
               hint="apt-get install payload", subdir="demo")


def test_explicit_path_is_verified_and_used(tmp_path):
    p = tmp_path / "payload.bin"
    p.write_bytes(DATA)
    assert fetch(RES, path=p) == p
    assert fetch(RES, path=tmp_path) == p  # a folder holding it works too


def test_data_dir_and_cache_are_searched(tmp_path, monkeypatch):
    monkeypatch.setenv("GENBENCH_CACHE", str(tmp_path / "cache"))
    (tmp_path / "cache/demo").mkdir(parents=True)
    (tmp_path / "cache/demo/payload.bin").write_bytes(DATA)
    assert fetch(RES) == tmp_path / "cache/demo/payload.bin"
    monkeypatch.setenv("GENBENCH_DATA", str(tmp_path / "data"))
    (tmp_path / "data").mkdir()
    (tmp_path / "data/payload.bin").write_bytes(DATA)
    assert fetch(RES) == tmp_path / "data/payload.bin"


def test_wrong_checksum_is_refused(tmp_path):
    p = tmp_path / "payload.bin"
    p.write_bytes(b"tampered")
    with pytest.raises(GenbenchError, match="SHA-256 .* expected"):
        fetch(RES, path=p)


def test_offline_error_names_file_checksum_url_and_place(tmp_path, monkeypatch):
    monkeypatch.setenv("GENBENCH_CACHE", str(tmp_path / "cache"))
    with pytest.raises(GenbenchError) as e:
        fetch(RES)
    msg = str(e.value)
    for needle in ("payload.bin not found", RES.sha256, "https://example.org/payload.bin",
                   str(tmp_path / "cache/demo/payload.bin"), "apt-get install payload", "offline"):
        assert needle in msg
    assert not (tmp_path / "cache/demo/payload.bin").exists()


def test_missing_explicit_path(tmp_path):
    with pytest.raises(GenbenchError, match="does not exist"):
        fetch(RES, path=tmp_path / "nope.bin")
