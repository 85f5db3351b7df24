"""`genbench bench --jobs N` and run claims: worker processes give the serial tables, concurrent
benches never train a run twice, and a killed worker's run is resumed by the next bench."""

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from genbench.api import bench
from genbench.claims import RunClaimed, claim, held
from tests.conftest import REPO, assert_one_line_error

NUMBERS = lambda frame: frame[[c for c in frame.columns if c != "train_time_s"]]  # noqa: E731


@pytest.fixture
def mini(tmp_path):
    """The committed recipes, with a two-recipe suite (six runs) and a slow GAN suite to kill."""
    import shutil

    baselines = tmp_path / "baselines"
    shutil.copytree(REPO / "baselines", baselines)
    gan = (baselines / "ring8/gan.toml").read_text()
    gan = gan.replace("steps = 1000", "steps = 3000").replace("checkpoint_every = 500", "checkpoint_every = 50")
    (baselines / "ring8/gan-long.toml").write_text(gan.replace("seeds = [0, 1, 2]", "seeds = [0]"))
    # A GAN whose generator has batch norm, scored by a feature extractor: its numbers depend on the
    # torch thread count, and its first run in a process is the one that loads the extractor.
    digits_gan = (baselines / "digits/gan.toml").read_text().replace("steps = 2000", "steps = 30").split("[score]")[0]
    (baselines / "digits/gan-mini.toml").write_text(digits_gan + '[score]\nmetrics = ["fid", "is"]\n')
    (baselines / "suites.toml").write_text('[mini]\nrecipes = ["ring8/gmm", "grid25/gmm"]\n'
                                           '[mixed]\nrecipes = ["grid25/gmm", "digits/gan-mini"]\n'
                                           '[long]\nrecipes = ["ring8/gan-long"]\n')
    return baselines


def genbench_cli(*args, **kwargs):
    env = {**os.environ, "GENBENCH_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "genbench", *map(str, args)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


@pytest.mark.slow
def test_jobs_give_the_serial_tables(tmp_path, mini):
    serial = bench("mini", runs=tmp_path / "r1", leaderboards=tmp_path / "l1", baselines=mini, plots=False, quiet=True)
    parallel = bench("mini", runs=tmp_path / "r2", leaderboards=tmp_path / "l2", baselines=mini, plots=False,
                     quiet=True, jobs=2)
    assert serial["ran"] == parallel["ran"] == 6 and not parallel["failed"]
    pd.testing.assert_frame_equal(NUMBERS(pd.read_csv(tmp_path / "l1/mini.csv")),
                                  NUMBERS(pd.read_csv(tmp_path / "l2/mini.csv")))
    again = bench("mini", runs=tmp_path / "r2", leaderboards=tmp_path / "l2", baselines=mini, plots=False,
                  quiet=True, jobs=2)
    assert again["ran"] == 0 and again["skipped"] == 6


@pytest.mark.slow
def test_jobs_give_the_records_of_a_serial_bench_with_as_many_threads(tmp_path, mini):
    """Same thread count per run, same numbers, however the runs are spread over processes."""
    serial = bench("mixed", runs=tmp_path / "r1", leaderboards=tmp_path / "l1", baselines=mini, plots=False,
                   quiet=True, threads=1)
    parallel = bench("mixed", runs=tmp_path / "r2", leaderboards=tmp_path / "l2", baselines=mini, plots=False,
                     quiet=True, jobs=2, threads=1)
    assert serial["ran"] == parallel["ran"] == 6 and not parallel["failed"]
    pd.testing.assert_frame_equal(NUMBERS(pd.read_csv(tmp_path / "l1/mixed.csv")),
                                  NUMBERS(pd.read_csv(tmp_path / "l2/mixed.csv")))
    for seed in (0, 1, 2):
        records = [json.loads((tmp_path / r / f"digits/gan-mini/seed{seed}/record.json").read_text()) for r in ("r1", "r2")]
        assert records[0]["metrics"] == records[1]["metrics"]
        assert records[0]["hardware"]["torch_threads"] == records[1]["hardware"]["torch_threads"] == 1


@pytest.mark.slow
def test_two_concurrent_benches_train_each_run_once(tmp_path, mini):
    args = ("bench", "mini", "--runs", tmp_path / "runs", "--baselines", mini, "--no-plots", "--quiet")
    a, b = genbench_cli(*args, "--leaderboards", tmp_path / "la"), genbench_cli(*args, "--leaderboards", tmp_path / "lb")
    outs = [p.communicate(timeout=600) for p in (a, b)]
    assert a.returncode == 0 and b.returncode == 0, outs
    ran = [int(out.split("ran ")[1].split(",")[0]) for out, _ in outs]
    assert sum(ran) == 6, outs  # each of the six runs trained by exactly one of the two
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "la/mini.csv"), pd.read_csv(tmp_path / "lb/mini.csv"))


def test_a_claim_is_exclusive_and_dies_with_its_holder(tmp_path):
    folder = tmp_path / "run"
    with claim(folder):
        assert held(folder)
        with pytest.raises(RunClaimed, match=f"process {os.getpid()}"), claim(folder):
            pass
    assert not held(folder)
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; sys.path.insert(0, sys.argv[1]);"
                               "from genbench.claims import claim\nwith claim(__import__('pathlib').Path(sys.argv[2])):"
                               "\n print('held', flush=True); time.sleep(600)", str(REPO), str(folder)],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    assert held(folder)
    holder.kill()
    holder.wait()
    assert not held(folder)  # no stale claim: the kernel dropped the lock with its process
    with claim(folder):
        pass


@pytest.mark.slow
def test_a_killed_worker_is_resumed_by_the_next_bench(tmp_path, mini):
    runs = tmp_path / "runs"
    folder = runs / "ring8/gan-long/seed0"
    proc = genbench_cli("bench", "long", "--runs", runs, "--leaderboards", tmp_path / "lb", "--baselines", mini,
                        "--jobs", "2", "--no-plots", "--quiet")
    deadline = time.time() + 300
    while not (folder / "train_state.json").is_file():
        assert proc.poll() is None and time.time() < deadline, proc.communicate()
        time.sleep(0.2)
    worker = json.loads((folder / ".claim").read_text())["pid"]
    assert worker != proc.pid
    os.kill(worker, signal.SIGKILL)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, (out, err)
    assert "FAILED ring8/gan-long seed 0" in out and "worker process died" in out
    assert not (folder / "record.json").exists() and not held(folder)
    saved = json.loads((folder / "train_state.json").read_text())["step"]

    # The next bench takes the run over and resumes it from the dead worker's last saved state.
    done = bench("long", runs=runs, leaderboards=tmp_path / "lb", baselines=mini, plots=False, quiet=True, jobs=2)
    assert done["ran"] == 1 and not done["failed"]
    record = json.loads((folder / "record.json").read_text())
    assert record["train"]["resumed_from"] == saved and record["train"]["steps"] == 3000


def test_bad_jobs_is_refused(cli, tmp_path):
    code, _, err = cli("bench", "quick", "--jobs", "0", "--runs", tmp_path / "runs")
    assert_one_line_error(code, err, "--jobs must be at least 1")
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("command", [("bench", "quick", "--jobs", "2"), ("train", "digits/gmm")])
def test_bad_threads_is_refused(cli, tmp_path, command):
    code, _, err = cli(*command, "--threads", "0", "--runs", tmp_path / "runs")
    assert_one_line_error(code, err, "--threads must be at least 1")
    assert not (tmp_path / "runs").exists()


def test_ray_not_installed_is_a_clear_error(cli, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    code, _, err = cli("bench", "quick", "--ray", "--runs", tmp_path / "runs")
    assert_one_line_error(code, err, "pip install 'genbench[ray]'")
    assert not (tmp_path / "runs").exists()


def test_ray_and_jobs_are_refused_together(cli, tmp_path):
    code, _, err = cli("bench", "quick", "--ray", "--jobs", "2", "--runs", tmp_path / "runs")
    assert_one_line_error(code, err, "--ray and --jobs do not go together")
