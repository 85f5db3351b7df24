"""One run over several processes: torchrun with the gloo backend on this machine's loopback."""

import json
import os
import socket
import subprocess
import sys

import pytest

from tests.conftest import REPO


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(*args, nproc=2):
    env = {**os.environ, "PYTHONPATH": str(REPO), "GENBENCH_OFFLINE": "1", "GLOO_SOCKET_IFNAME": "lo",
           "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={nproc}", "--nnodes=1",
           "--master-addr=127.0.0.1", f"--master-port={free_port()}", *map(str, args)]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def single(*args):
    env = {**os.environ, "PYTHONPATH": str(REPO), "GENBENCH_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, *map(str, args)], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=600)


@pytest.mark.slow
def test_two_processes_follow_the_one_process_loss_trajectory(tmp_path):
    script = REPO / "tests/scripts/ddp_losses.py"
    one = single(script, tmp_path / "one.json", 30)
    two = torchrun(script, tmp_path / "two.json", 30)
    assert one.returncode == 0 and two.returncode == 0, one.stderr + two.stderr
    a, b = json.loads((tmp_path / "one.json").read_text()), json.loads((tmp_path / "two.json").read_text())
    assert a["world"] == 1 and b["world"] == 2 and len(a["losses"]) == len(b["losses"]) == 30
    assert b["losses"] == pytest.approx(a["losses"], rel=1e-4, abs=1e-5)
    assert a["losses"][-1] < a["losses"][0] - 0.2  # it trained: the comparison is not of two flat lines
    assert b["params"] == pytest.approx(a["params"], rel=1e-4, abs=1e-4)


@pytest.mark.slow
def test_torchrun_train_writes_one_record_from_rank_zero(tmp_path):
    recipe = tmp_path / "made.toml"
    text = (REPO / "baselines/ring8/made.toml").read_text().replace("steps = 1400", "steps = 40")
    recipe.write_text(text.replace("checkpoint_every = 500", "checkpoint_every = 20"))
    done = torchrun("-m", "genbench", "train", recipe, "--runs", tmp_path / "runs", "--quiet")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("seed 0 (40 steps") == 1  # rank 0 reports; rank 1 says nothing
    records = list((tmp_path / "runs").rglob("record.json"))
    assert len(records) == 1
    record = json.loads(records[0].read_text())
    assert record["train"]["processes"] == 2 and record["train"]["steps"] == 40
    assert not list((tmp_path / "runs").rglob("train_state.json"))  # cleared once the record exists


@pytest.mark.slow
def test_torchrun_on_a_family_without_gradients_is_refused(tmp_path):
    done = torchrun("-m", "genbench", "train", "ring8/gmm", "--runs", tmp_path / "runs")
    assert done.returncode != 0
    ours = [ln for ln in done.stderr.splitlines() if ln.startswith("genbench: error:")]
    assert ours == ["genbench: error: model 'gmm' (mixture) has no gradient-trained parameters, so it cannot be "
                    "trained data-parallel; run it without torchrun"]
    assert not (tmp_path / "runs").exists()
