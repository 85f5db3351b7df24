"""`genbench bench --ray`: a suite's runs as tasks of a local Ray cluster (genbench[ray])."""

import pandas as pd
import pytest

from genbench.api import bench
from tests.conftest import assert_one_line_error
from tests.test_parallel_bench import NUMBERS

ray = pytest.importorskip("ray", reason="the Ray tests need genbench[ray]")


@pytest.mark.slow
def test_a_local_ray_cluster_gives_the_serial_tables(tmp_path):
    serial = bench("quick", runs=tmp_path / "r1", leaderboards=tmp_path / "l1", plots=False, quiet=True)
    try:
        on_ray = bench("quick", runs=tmp_path / "r2", leaderboards=tmp_path / "l2", plots=False, quiet=True,
                       ray="local")
    finally:
        ray.shutdown()
    assert serial["ran"] == on_ray["ran"] == 12 and not on_ray["failed"]
    pd.testing.assert_frame_equal(NUMBERS(pd.read_csv(tmp_path / "l1/quick.csv")),
                                  NUMBERS(pd.read_csv(tmp_path / "l2/quick.csv")))
    run = tmp_path / "r2/grid25/gmm/seed0"
    assert sorted(p.name for p in run.iterdir()) == [".claim", "model.json", "model.safetensors", "record.json"]


def test_an_unreachable_ray_cluster_is_refused(cli, tmp_path):
    code, _, err = cli("bench", "quick", "--ray", "127.0.0.1:9", "--runs", tmp_path / "runs")
    assert_one_line_error(code, err, "cannot reach the Ray cluster at '127.0.0.1:9'")
    assert not (tmp_path / "runs").exists()

