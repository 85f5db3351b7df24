"""`score --reference REF`: the real images the image metrics compare with, by dataset split name,
folder of image files or array file; recorded with the numbers; bad ones refused in one line.
`score --batch-size N`: images per forward pass of the extractor, which leaves the numbers alone."""

import numpy as np
import pytest
from PIL import Image

from genbench.data import load_dataset
from tests.conftest import assert_one_line_error, read_json


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture
def files(tmp_path, digits):
    """Test images as uint8: an .npy (N, H, W), a grey PNG folder, an RGB PNG folder; train images as .npy."""
    u8 = (digits.reference("test").numpy() * 255).round().astype(np.uint8)[:, 0]
    np.save(tmp_path / "test_u8.npy", u8)
    grey, rgb = tmp_path / "grey", tmp_path / "rgb"
    grey.mkdir()
    rgb.mkdir()
    for i, img in enumerate(u8):
        Image.fromarray(img, mode="L").save(grey / f"{i:04d}.png")
        Image.fromarray(np.repeat(img[:, :, None], 3, axis=2), mode="RGB").save(rgb / f"{i:04d}.png")
    np.save(tmp_path / "train.npy", digits.reference("train").numpy())
    return tmp_path


def scored(cli, out, *args):
    code, _, err = cli("score", "--dataset", "digits", "--json", out, "-q", *args)
    assert code == 0, err
    return read_json(out)


def test_default_is_the_train_split_and_records_nothing_new(cli, files):
    samples = files / "train.npy"
    default = scored(cli, files / "a.json", "--samples", samples, "--metrics", "fid,kid,prc")
    named = scored(cli, files / "b.json", "--samples", samples, "--metrics", "fid,kid,prc", "--reference",
                   "digits-train")
    assert "reference" not in default and default["info"] == {}
    assert named["metrics"] == default["metrics"]  # the same cached train features, the same numbers
    assert default["metrics"]["fid@digits-cnn"] < 1e-6  # the train split against itself
    assert named["reference"] == "digits-train" and named["reference_samples"] == len(load_dataset("digits").train)
    assert named["info"] == {m: {"reference": "digits-train"} for m in ("fid", "kid", "prc")}


def test_split_by_name_folder_and_array_agree(cli, files):
    """The test split by name, its images as PNGs (grey or RGB, converted to grey) and as an .npy array: the
    files hold the images rounded to 8 bits, so they agree with each other exactly and with the split closely."""
    samples = ("--samples", files / "train.npy", "--metrics", "fid")
    by_name = scored(cli, files / "n.json", *samples, "--reference", "digits-test")
    got = {src: scored(cli, files / f"{i}.json", *samples, "--reference", files / src)
           for i, src in enumerate(("grey", "rgb", "test_u8.npy"))}
    assert by_name["reference"] == "digits-test" and by_name["info"]["fid"] == {"reference": "digits-test"}
    assert got["grey"]["metrics"] == got["rgb"]["metrics"] == got["test_u8.npy"]["metrics"]
    assert got["grey"]["reference"] == str(files / "grey") and got["grey"]["reference_samples"] == 359
    fid_name, fid_files = by_name["metrics"]["fid@digits-cnn"], got["grey"]["metrics"]["fid@digits-cnn"]
    default = scored(cli, files / "d.json", *samples)["metrics"]["fid@digits-cnn"]
    assert fid_name > default + 1  # train against test is not train against itself
    assert fid_files == pytest.approx(fid_name, rel=0.05)


def test_api_keyword_and_summary(cli, files):
    import genbench

    out = genbench.score(samples=str(files / "test_u8.npy"), dataset="digits", metrics="fid",
                         reference="digits-test", quiet=True)
    assert out["metrics"]["fid@digits-cnn"] < 0.05 and out["reference"] == "digits-test"  # the split rounded to 8 bits
    code, printed, err = cli("score", "--samples", files / "test_u8.npy", "--dataset", "digits", "--metrics", "fid",
                             "--reference", "digits-test", "-q")
    assert code == 0, err
    assert "against reference digits-test (359 images)" in printed and "fid: reference digits-test" in printed


def test_batch_size_changes_no_number(cli, files):
    """Two batch sizes of the extractor (reference features computed afresh for the array reference)."""
    args = ("--samples", files / "test_u8.npy", "--metrics", "fid,kid,is", "--reference", files / "train.npy")
    a = scored(cli, files / "a.json", *args, "--batch-size", "7")["metrics"]
    b = scored(cli, files / "b.json", *args, "--batch-size", "1000")["metrics"]
    assert a.keys() == b.keys()
    for k in a:
        assert a[k] == pytest.approx(b[k], rel=1e-6, abs=1e-6), k
    import genbench

    c = genbench.score(samples=str(files / "test_u8.npy"), dataset="digits", metrics="fid", batch_size=3, quiet=True)
    d = genbench.score(samples=str(files / "test_u8.npy"), dataset="digits", metrics="fid", quiet=True)
    assert c["metrics"]["fid@digits-cnn"] == pytest.approx(d["metrics"]["fid@digits-cnn"], rel=1e-6, abs=1e-6)


def test_bad_references_refused_before_anything_is_written(cli, files):
    (files / "small").mkdir()
    Image.fromarray(np.zeros((7, 8), np.uint8), mode="L").save(files / "small" / "a.png")
    (files / "mixed").mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8), mode="L").save(files / "mixed" / "a.png")
    (files / "mixed" / "notes.txt").write_text("x")
    np.save(files / "wide.npy", np.zeros((10, 9, 9), np.uint8))
    (files / "features.npy").write_bytes(b"")
    cases = [
        (("--reference", "digts-test"), ("unknown reference 'digts-test'", "did you mean 'digits-test'")),
        (("--reference", "digits-valid"), ("unknown reference 'digits-valid'",)),
        (("--reference", "ring8-train"), ("'ring8' is not an image dataset",)),
        (("--reference", "stacked-digits-test"), ("shape (3, 8, 8)", "shape (1, 8, 8)")),
        (("--reference", files / "small"), ("is 8x7 pixels", "8x8 images")),
        (("--reference", files / "mixed"), ("notes.txt, which is not a PNG or JPEG file",)),
        (("--reference", files / "wide.npy"), ("have shape (10, 9, 9)",)),
        (("--reference", files / "missing.npy"), ("no such file or folder",)),
        (("--reference", "digits-test", "--metrics", "is"), ("--reference is taken by none of the metrics",)),
        (("--batch-size", "0"), ("--batch-size must be at least 1",)),
        (("--batch-size", "8", "--metrics", "fid", "--features", files / "features.npy"),
         ("--batch-size", "goes with --checkpoint, --samples or --factory")),
    ]
    for args, needles in cases:
        out = files / "out.json"
        source = () if "--features" in args else ("--samples", files / "test_u8.npy", "--dataset", "digits")
        code, _, err = cli("score", *source, *args, "--json", out, "-q")
        assert_one_line_error(code, err, *needles)
        assert not out.exists(), args
    code, _, err = cli("score", "--features", files / "features.npy", "--reference-features", files / "features.npy",
                       "--reference", "digits-test")
    assert_one_line_error(code, err, "--reference", "goes with --checkpoint, --samples or --factory", "not --features")


def test_factory_with_reference_equals_its_saved_samples(cli, tmp_path):
    """A model drawn here (--factory) against the test split scores as its saved samples do, and a bad
    reference is refused before anything is drawn or written."""
    factory = ("--factory", "tests.user_factories:digits_wrapper", "--dataset", "digits", "--n-samples", "300",
               "--metrics", "fid,kid", "-q")
    code, _, err = cli("score", *factory, "--reference", "digits-test", "--json", tmp_path / "f.json",
                       "--save-samples", tmp_path / "s.npy")
    assert code == 0, err
    drawn = read_json(tmp_path / "f.json")
    given = scored(cli, tmp_path / "g.json", "--samples", tmp_path / "s.npy", "--metrics", "fid,kid",
                   "--reference", "digits-test")
    assert drawn["metrics"] == given["metrics"] and drawn["reference"] == given["reference"] == "digits-test"
    code, _, err = cli("score", *factory, "--reference", "digits-tests", "--json", tmp_path / "x.json",
                       "--save-samples", tmp_path / "x.npy")
    assert_one_line_error(code, err, "did you mean 'digits-test'")
    assert not (tmp_path / "x.json").exists() and not (tmp_path / "x.npy").exists()
