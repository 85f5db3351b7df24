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

