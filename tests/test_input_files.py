"""Array files a user hands in (--samples, --features): damaged or hostile ones are refused in one
line, exit 2, with nothing written and nothing unpickled; well-formed ones are read as documented."""

import io
import zipfile

import numpy as np
import pytest

from tests.conftest import assert_one_line_error, read_json


class Payload:
    """Unpickling this creates `marker`: proof that a pickle ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def npy_bytes(array):
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def bad_npz(tmp_path, case, name):
    """A damaged .npz (or a hostile .npy) whose one array is called `name`, and the error to expect."""
    good = np.random.default_rng(0).normal(size=(600, 12))
    path = tmp_path / f"{case}.npz"
    if case == "object array":
        np.savez(path, **{name: np.array([1, "a", None], dtype=object)})
        return path, "Object arrays cannot be loaded"
    if case == "pickle npy":
        path = tmp_path / "pickle.npy"
        np.save(path, np.array([Payload(tmp_path / "marker")], dtype=object), allow_pickle=True)
        return path, "Object arrays cannot be loaded"
    if case == "pickle npz":
        np.savez(path, **{name: np.array([Payload(tmp_path / "marker")], dtype=object)})
        return path, "Object arrays cannot be loaded"
    if case == "truncated zip":
        np.savez(tmp_path / "whole.npz", **{name: good})
        data = (tmp_path / "whole.npz").read_bytes()
        path.write_bytes(data[: len(data) // 2])
        return path, "cannot be read as .npz"
    if case == "truncated member":
        raw = npy_bytes(good)
        with zipfile.ZipFile(path, "w") as z:
            z.writestr(f"{name}.npy", raw[: len(raw) // 2])
        return path, "cannot be read as .npz"
    if case == "corrupt compressed member":  # the deflate stream itself is garbage: zlib fails
        np.savez_compressed(tmp_path / "whole.npz", **{name: good})
        with zipfile.ZipFile(tmp_path / "whole.npz") as z:
            info = z.infolist()[0]
        data = bytearray((tmp_path / "whole.npz").read_bytes())
        start = info.header_offset + 30 + len(info.filename) + len(info.extra)  # after the local header
        data[start + 10: start + info.compress_size] = np.random.default_rng(1).bytes(info.compress_size - 10)
        path.write_bytes(bytes(data))
        return path, "cannot be read as .npz (Error -3 while decompressing"
    if case == "bytes under a .npy name":  # numpy returns such a member's raw bytes, not an array
        with zipfile.ZipFile(path, "w") as z:
            z.writestr(f"{name}.npy", b"not an npy")
        return path, f"holds {name}.npy, which is not a .npy array"
    assert case == "not npy member"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"{name}.txt", "hello")
    return path, f"holds {name}.txt, which is not a .npy array"


CASES = ["object array", "pickle npy", "pickle npz", "truncated zip", "truncated member",
         "corrupt compressed member", "not npy member", "bytes under a .npy name"]


@pytest.mark.parametrize("case", CASES)
def test_damaged_samples_file(cli, tmp_path, case):
    path, needle = bad_npz(tmp_path, case, "samples")
    code, _, err = cli("score", "--samples", path, "--dataset", "grid25", "--json", tmp_path / "o.json")
    assert_one_line_error(code, err, "samples file", needle)
    assert not (tmp_path / "o.json").exists()
    assert not (tmp_path / "marker").exists()


@pytest.mark.parametrize("case", CASES)
def test_damaged_features_file(cli, tmp_path, case):
    path, needle = bad_npz(tmp_path, case, "features")
    np.save(tmp_path / "ref.npy", np.random.default_rng(1).normal(size=(700, 12)))
    code, _, err = cli("score", "--features", path, "--reference-features", tmp_path / "ref.npy",
                       "--json", tmp_path / "o.json")
    assert_one_line_error(code, err, "--features", needle)
    assert not (tmp_path / "o.json").exists()
    assert not (tmp_path / "marker").exists()


def test_the_pickle_payload_is_real(tmp_path):
    """The hostile files above would run code if unpickled: the refusals test something."""
    path, _ = bad_npz(tmp_path, "pickle npz", "samples")
    with np.load(path, allow_pickle=True) as data:
        data["samples"]
    assert (tmp_path / "marker").exists()


def test_features_npz_with_other_arrays_reads_features(cli, tmp_path):
    g = np.random.default_rng(0)
    a, b = g.normal(size=(600, 12)), g.normal(0.5, 1.0, size=(700, 12))
    np.savez(tmp_path / "a.npz", features=a, labels=np.arange(600))
    np.savez(tmp_path / "only.npz", features=a)
    np.save(tmp_path / "b.npy", b)
    scores = []
    for name in ("a.npz", "only.npz"):
        code, _, err = cli("score", "--features", tmp_path / name, "--reference-features", tmp_path / "b.npy",
                           "--metrics", "fid", "--json", tmp_path / f"{name}.json")
        assert code == 0, err
        scores.append(read_json(tmp_path / f"{name}.json")["metrics"]["fid@features"])
    assert scores[0] == scores[1]


def test_features_npz_with_several_arrays_none_named_features(cli, tmp_path):
    g = np.random.default_rng(0)
    np.savez(tmp_path / "a.npz", x=g.normal(size=(600, 12)), y=g.normal(size=(600, 12)))
    np.save(tmp_path / "b.npy", g.normal(size=(700, 12)))
    code, _, err = cli("score", "--features", tmp_path / "a.npz", "--reference-features", tmp_path / "b.npy",
                       "--json", tmp_path / "o.json")
    assert_one_line_error(code, err, "holds several arrays (x, y); name one 'features'")
    assert not (tmp_path / "o.json").exists()
