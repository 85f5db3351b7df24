"""Image scoring from the command line: inputs in every accepted form, bad ones refused cleanly."""

import hashlib

import numpy as np
import pytest
from PIL import Image

from genbench.data import load_dataset
from tests.conftest import assert_one_line_error, read_json


@pytest.fixture(scope="module")
def test_images():
    return load_dataset("digits").reference("test").numpy()  # (359, 1, 8, 8) float in [0,1]


def test_npy_float_uint8_and_png_folder_agree(cli, tmp_path, test_images):
    u8 = (test_images * 255).round().astype(np.uint8)
    np.save(tmp_path / "u8.npy", u8[:, 0])  # (N, H, W) uint8
    np.save(tmp_path / "f.npy", u8.astype(np.float32) / 255)  # (N, C, H, W) float
    folder = tmp_path / "png"
    folder.mkdir()
    for i, img in enumerate(u8[:, 0]):
        Image.fromarray(img, mode="L").save(folder / f"{i:04d}.png")
    results = []
    for src in (tmp_path / "u8.npy", tmp_path / "f.npy", folder):
        out = tmp_path / f"{src.stem}.json"
        code, _, err = cli("score", "--samples", src, "--dataset", "digits", "--metrics", "fid,is", "--json", out, "-q")
        assert code == 0, err
        results.append(read_json(out)["metrics"])
    assert results[0] == pytest.approx(results[1], rel=1e-6) == results[2]
    assert set(results[0]) == {"fid@digits-cnn", "is@digits-cnn"}


def test_byo_features(cli, tmp_path):
    from genbench.metrics.fidelity import fid

    g = np.random.default_rng(0)
    a, b = g.normal(size=(600, 12)), g.normal(0.5, 1.0, size=(800, 12))
    np.savez(tmp_path / "a.npz", features=a)
    np.save(tmp_path / "b.npy", b)
    code, out, err = cli("score", "--features", tmp_path / "a.npz", "--reference-features", tmp_path / "b.npy",
                         "--json", tmp_path / "o.json")
    assert code == 0, err
    metrics = read_json(tmp_path / "o.json")["metrics"]
    assert set(metrics) == {"fid@features", "kid@features", "precision@features", "recall@features",
                            "density@features", "coverage@features"}
    import torch

    assert metrics["fid@features"] == pytest.approx(fid(torch.tensor(a), torch.tensor(b)))


@pytest.mark.parametrize("case, needle", [
    ("dims", "12 dimensions, --reference-features 5"),
    ("nan", "NaN or inf"),
    ("rank", "expected (N, d)"),
    ("is", "cannot be computed from features alone"),
    ("few", "FID needs more samples than feature dimensions"),
    ("kid", "subset size 900 is larger than the sample count"),
])
def test_bad_features(cli, tmp_path, case, needle):
    g = np.random.default_rng(0)
    a, b = g.normal(size=(600, 12)), g.normal(size=(700, 12))
    extra = []
    if case == "dims":
        b = b[:, :5]
    elif case == "nan":
        a[3, 3] = np.nan
    elif case == "rank":
        a = a[:, :, None]
    elif case == "is":
        extra = ["--metrics", "is"]
    elif case == "few":
        a, extra = a[:10], ["--metrics", "fid"]
    elif case == "kid":
        extra = ["--metrics", "kid", "--kid-subset-size", "900"]
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    code, _, err = cli("score", "--features", tmp_path / "a.npy", "--reference-features", tmp_path / "b.npy",
                       "--json", tmp_path / "o.json", *extra)
    assert_one_line_error(code, err, needle)
    assert not (tmp_path / "o.json").exists()


@pytest.mark.parametrize("case, needle", [
    ("nan", "NaN or inf"),
    ("rank", "needs (N, 1, 8, 8) or (N, 8, 8)"),
    ("range", "float images must lie in [0, 1]"),
    ("int", "images must be uint8"),
    ("few", "FID needs more samples than feature dimensions"),
    ("empty-folder", "is empty"),
    ("non-image", "not a .png file"),
    ("bad-png", "not a readable PNG image"),
])
def test_bad_image_samples(cli, tmp_path, test_images, case, needle):
    x = test_images.copy()
    path = tmp_path / "s.npy"
    if case == "nan":
        x[5, 0, 2, 2] = np.nan
    elif case == "rank":
        x = x.reshape(len(x), -1)
    elif case == "range":
        x = x * 2
    elif case == "int":
        x = (x * 255).astype(np.int32)
    elif case == "few":
        x = x[:50]
    elif case in ("empty-folder", "non-image", "bad-png"):
        path = tmp_path / "folder"
        path.mkdir()
        if case == "non-image":
            Image.fromarray(np.zeros((8, 8), np.uint8)).save(path / "a.png")
            (path / "notes.txt").write_text("hello")
        if case == "bad-png":
            (path / "broken.png").write_bytes(b"\x89PNG not really")
    if path.suffix == ".npy":
        np.save(path, x)
    code, _, err = cli("score", "--samples", path, "--dataset", "digits", "--metrics", "fid",
                       "--json", tmp_path / "o.json")
    assert_one_line_error(code, err, needle)
    assert not (tmp_path / "o.json").exists()


def test_inception_without_weights_says_what_to_do(cli, tmp_path, test_images, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("GENBENCH_INCEPTION_WEIGHTS", raising=False)
    np.save(tmp_path / "s.npy", test_images)
    code, _, err = cli("score", "--samples", tmp_path / "s.npy", "--dataset", "digits", "--metrics", "fid",
                       "--extractor", "inception-v3-compat")
    assert_one_line_error(code, err, "weights-inception-2015-12-05-6726825d.pth not found",
                          str(tmp_path / "torch/hub/checkpoints"), "--inception-weights", "--extractor digits-cnn")


def test_inception_file_with_the_wrong_hash_is_refused(cli, tmp_path, test_images):
    fake = tmp_path / "weights-inception-2015-12-05-6726825d.pth"
    fake.write_bytes(b"not inception, maybe a malicious pickle")
    np.save(tmp_path / "s.npy", test_images)
    code, _, err = cli("score", "--samples", tmp_path / "s.npy", "--dataset", "digits", "--metrics", "fid",
                       "--extractor", "inception-v3-compat", "--inception-weights", fake)
    assert_one_line_error(code, err, "expected 6726825d", hashlib.sha256(fake.read_bytes()).hexdigest()[:16])


def test_unknown_extractor(cli, tmp_path, test_images):
    np.save(tmp_path / "s.npy", test_images)
    code, _, err = cli("score", "--samples", tmp_path / "s.npy", "--dataset", "digits", "--extractor", "digit-cnn")
    assert_one_line_error(code, err, "did you mean 'digits-cnn'")


def test_fashion_mnist_offline_error_names_the_package(tmp_path, monkeypatch):
    import genbench.data.fashion_mnist as fm
    from genbench.errors import GenbenchError

    monkeypatch.setattr(fm, "RESOURCES", {k: r.__class__(**{**r.__dict__, "search": (str(tmp_path),)})
                                          for k, r in fm.RESOURCES.items()})
    monkeypatch.setenv("GENBENCH_CACHE", str(tmp_path / "cache"))
    with pytest.raises(GenbenchError) as e:
        fm.fashion_mnist()
    assert "apt-get install dataset-fashion-mnist" in str(e.value) and "train-images-idx3-ubyte.gz" in str(e.value)
