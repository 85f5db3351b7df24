"""Output paths (--json, --runs, --leaderboards) are checked before any work: a path under a regular
file, or a target that is not a regular file (FIFO, device, folder, symlink loop), is a one-line
error with nothing written; a symlink to a regular file is written through and stays a link."""

import os
import stat
from pathlib import Path

import pytest

from tests.conftest import assert_one_line_error, read_json


def listing(root: Path) -> dict[str, bytes | str]:
    """Every entry under `root`, with a file's bytes or what else it is: to see that nothing changed."""
    out = {}
    for p in sorted(root.rglob("*")):
        mode = p.lstat().st_mode
        key = str(p.relative_to(root))
        out[key] = p.read_bytes() if stat.S_ISREG(mode) else os.readlink(p) if stat.S_ISLNK(mode) else stat.filemode(mode)
    return out


@pytest.fixture
def text_pair(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "h.txt").write_text("the cat sat on the mat\nhello world\n", encoding="utf-8")
    (inputs / "r.txt").write_text("the cat sat on a mat\nhello there world\n", encoding="utf-8")
    return ["score", "--text", inputs / "h.txt", "--refs", inputs / "r.txt"]


@pytest.mark.parametrize("args, flag", [
    (["score", "--text", "{in}/h.txt", "--refs", "{in}/r.txt", "--json", "{f}/out.json"], "--json"),
    (["score", "--text", "{in}/h.txt", "--refs", "{in}/r.txt", "--json", "{f}/sub/out.json"], "--json"),
    (["train", "ring8/gmm", "--runs", "{f}", "-q"], "--runs"),
    (["train", "ring8/gmm", "--runs", "{f}/runs", "-q"], "--runs"),
    (["bench", "quick", "--runs", "{f}", "--no-plots", "-q"], "--runs"),
    (["bench", "quick", "--leaderboards", "{f}", "--runs", "{tmp}/runs", "--no-plots", "-q"], "--leaderboards"),
    (["leaderboard", "quick", "--leaderboards", "{f}", "--runs", "{tmp}/runs", "--allow-empty"], "--leaderboards"),
    (["leaderboard", "quick", "--leaderboards", "{f}", "--runs", "{tmp}/runs", "--allow-empty", "--html"], "--leaderboards"),
    (["site", "--leaderboards", "{f}", "--runs", "{tmp}/runs"], "--leaderboards"),
])
def test_output_under_a_regular_file(cli, tmp_path, text_pair, args, flag):
    f = tmp_path / "f.npy"
    f.write_bytes(b"a regular file")
    before = listing(tmp_path)
    code, _, err = cli(*[a.format(f=f, tmp=tmp_path, **{"in": tmp_path / "in"}) for a in args])
    assert_one_line_error(code, err, flag, f"{f} is a file, not a folder")
    assert listing(tmp_path) == before  # nothing written, not even an empty run folder


def test_json_onto_a_fifo_is_refused(cli, tmp_path, text_pair):
    fifo = tmp_path / "out.json"
    os.mkfifo(fifo)
    code, _, err = cli(*text_pair, "--json", fifo)
    assert_one_line_error(code, err, "--json", "is not a regular file")
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


def test_json_through_a_symlink_onto_a_device_is_refused(cli, tmp_path, text_pair):
    link = tmp_path / "out.json"
    link.symlink_to(os.devnull)
    code, _, err = cli(*text_pair, "--json", link)
    assert_one_line_error(code, err, "--json", f"{os.devnull} is not a regular file")
    assert link.is_symlink() and os.readlink(link) == os.devnull
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


def test_json_onto_a_folder_or_a_symlink_loop_is_refused(cli, tmp_path, text_pair):
    (tmp_path / "dir.json").mkdir()
    code, _, err = cli(*text_pair, "--json", tmp_path / "dir.json")
    assert_one_line_error(code, err, "--json", "is a folder; give a file path")
    loop = tmp_path / "loop.json"
    loop.symlink_to(loop)
    code, _, err = cli(*text_pair, "--json", loop)
    assert_one_line_error(code, err, "--json", "symlink loop")
    assert loop.is_symlink()


@pytest.mark.parametrize("target_exists", [True, False])
def test_json_through_a_symlink_writes_its_target(cli, tmp_path, text_pair, target_exists):
    results = tmp_path / "results"
    results.mkdir()
    target = results / "latest.json"
    if target_exists:
        target.write_text("old")
    link = tmp_path / "out.json"
    link.symlink_to(Path("results") / "latest.json")  # relative, as `ln -s` usually makes them
    code, _, err = cli(*text_pair, "--json", link)
    assert code == 0, err
    assert link.is_symlink() and os.readlink(link) == str(Path("results") / "latest.json")
    assert read_json(target)["n_samples"] == 2
    assert sorted(p.name for p in results.iterdir()) == ["latest.json"]  # no temp file left behind


def test_atomic_write_refuses_a_fifo_itself(tmp_path):
    """The check is at the bottom too: no caller of the atomic writers can replace a FIFO."""
    from genbench.errors import GenbenchError
    from genbench.io import atomic_write_json

    fifo = tmp_path / "record.json"
    os.mkfifo(fifo)
    with pytest.raises(GenbenchError, match="is not a regular file"):
        atomic_write_json(fifo, {"a": 1})
    assert stat.S_ISFIFO(fifo.lstat().st_mode)



# -- an output is never one of the command's own inputs, by any name, nor a file of a run folder


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A ring8/gmm run folder (2 EM steps: seconds)."""
    from genbench.api import train

    runs = tmp_path_factory.mktemp("out-inputs") / "runs"
    return Path(train("ring8/gmm", runs=runs, quiet=True, threads=1)["run_dir"])


def checkpoint_copy(trained, tmp_path):
    """The run's checkpoint copied out of its run folder, as a user hands one around."""
    ck = tmp_path / "ck"
    ck.mkdir()
    for name in ("model.safetensors", "model.json"):
        (ck / name).write_bytes((trained / name).read_bytes())
    return ck


def link_to(kind, target, tmp_path):
    """A second name for `target`: a symlink, a hard link, or a relative path (the tests run in the repo)."""
    if kind == "symlink":
        (tmp_path / "alias").symlink_to(target)
        return tmp_path / "alias"
    if kind == "hardlink":
        os.link(target, tmp_path / "alias")
        return tmp_path / "alias"
    return Path(os.path.relpath(target))


@pytest.mark.parametrize("name", ["model.safetensors", "model.json"])
@pytest.mark.parametrize("kind", ["plain", "symlink", "hardlink", "relative"])
def test_json_onto_the_checkpoint_or_its_config_is_refused(cli, trained, tmp_path, name, kind):
    ck = checkpoint_copy(trained, tmp_path)
    out = ck / name if kind == "plain" else link_to(kind, ck / name, tmp_path)
    before = listing(tmp_path)
    code, _, err = cli("score", "--checkpoint", ck / "model.safetensors", "--json", out, "-q")
    assert_one_line_error(code, err, "--json", "an input of this command")
    assert listing(tmp_path) == before


@pytest.mark.parametrize("name", ["record.json", "model.json", "model.safetensors", "scores.json"])
def test_json_into_a_run_folder_is_refused(cli, trained, tmp_path, name):
    """Any run's folder, not only the one scored: here a copy of its checkpoint is."""
    ck = checkpoint_copy(trained, tmp_path)
    before = listing(trained)
    code, _, err = cli("score", "--checkpoint", ck / "model.safetensors", "--json", trained / name, "-q")
    assert_one_line_error(code, err, "--json", "run folder")
    assert listing(trained) == before


@pytest.mark.parametrize("kind", ["plain", "symlink", "hardlink", "relative"])
def test_json_onto_the_samples_file_is_refused(cli, tmp_path, kind):
    import numpy as np

    samples = tmp_path / "x.npy"
    np.save(samples, np.random.default_rng(0).normal(size=(64, 2)).astype("float32"))
    out = samples if kind == "plain" else link_to(kind, samples, tmp_path)
    before = listing(tmp_path)
    code, _, err = cli("score", "--samples", samples, "--dataset", "ring8", "--json", out, "-q")
    assert_one_line_error(code, err, "--json", "--samples", "an input of this command")
    assert listing(tmp_path) == before


@pytest.mark.parametrize("which, flag", [("h.txt", "--text"), ("r.txt", "--refs"), ("r2.txt", "--refs"),
                                         ("base.txt", "--compare")])
def test_json_onto_a_text_input_is_refused(cli, tmp_path, text_pair, which, flag):
    for name in ("r2.txt", "base.txt"):
        (tmp_path / "in" / name).write_text("the cat sat on the mat\nhello world\n", encoding="utf-8")
    args = [*text_pair, tmp_path / "in/r2.txt", "--compare", tmp_path / "in/base.txt"]
    before = listing(tmp_path)
    code, _, err = cli(*args, "--json", tmp_path / "in" / which)
    assert_one_line_error(code, err, "--json", flag, "an input of this command")
    assert listing(tmp_path) == before


def test_json_inside_an_input_folder_is_refused(cli, tmp_path):
    from PIL import Image

    pngs = tmp_path / "pngs"
    pngs.mkdir()
    for i in range(2):
        Image.new("L", (28, 28), color=i * 100).save(pngs / f"{i}.png")
    before = listing(tmp_path)
    code, _, err = cli("score", "--samples", pngs, "--dataset", "digits", "--json", pngs / "s.json", "-q")
    assert_one_line_error(code, err, "--json", "lies inside --samples")
    assert listing(tmp_path) == before


def test_tables_are_not_written_into_a_run_folder(cli, trained):
    before = listing(trained)
    for args in (["leaderboard", "quick", "--allow-empty"], ["site"], ["bench", "quick", "--no-plots", "-q"]):
        code, _, err = cli(*args, "--runs", trained.parents[2], "--leaderboards", trained / "lb")
        assert_one_line_error(code, err, "--leaderboards", "run folder")
    assert listing(trained) == before


def test_json_beside_a_checkpoint_outside_a_run_folder_is_written(cli, trained, tmp_path):
    ck = checkpoint_copy(trained, tmp_path)
    code, _, err = cli("score", "--checkpoint", ck / "model.safetensors", "--json", ck / "scores.json", "-q")
    assert code == 0, err
    assert read_json(ck / "scores.json")["checkpoint"] == str(ck / "model.safetensors")


def test_json_into_the_hf_model_folder_is_refused(cli, tmp_path):
    """Checked before the model loads (no transformers needed): config.json would be replaced."""
    model = tmp_path / "lm"
    model.mkdir()
    (model / "config.json").write_text("{}")
    before = listing(tmp_path)
    code, _, err = cli("score", "--hf-model", model, "--dataset", "shakespeare-char", "--json", model / "config.json")
    assert_one_line_error(code, err, "--json", "lies inside --hf-model")
    assert listing(tmp_path) == before
