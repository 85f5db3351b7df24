"""`genbench bench SUITE --jobs 2` beside `--jobs 1` (the anchor) on the same suite in the same
session, each from an empty runs folder, so the figure is a ratio of wall times (issue 11's target:
at least 1.6x on 2 cores for `full`). The suite is $GENBENCH_JOBS_SUITE (default `full`, about 40
minutes for the pair on an idle 2-core machine; `quick` for a try), skipped where a data set of
the suite is not installed. Run:
`pytest tests/benchmarks/test_bench_jobs_speed.py --benchmark-only -s`; the ratio is printed and
both rows are in group 'bench-jobs'. With $GENBENCH_JOBS_KEEP set to a folder, each arm's runs and
tables are kept under it (`jobs1/`, `jobs2/`) instead of a temporary folder."""

import os
from pathlib import Path

import pytest

from genbench.api import bench
from genbench.recipes import load_suite
from tests.stand_ins import skip_unless_present

SUITE = os.environ.get("GENBENCH_JOBS_SUITE", "full")
KEEP = os.environ.get("GENBENCH_JOBS_KEEP")
WALL: dict[int, float] = {}


@pytest.mark.slow
@pytest.mark.benchmark(group="bench-jobs")
@pytest.mark.parametrize("jobs", [1, 2], ids=["jobs1-anchor", "jobs2"])
def test_bench_jobs(benchmark, tmp_path_factory, jobs):
    skip_unless_present(*(r.dataset for r in load_suite(SUITE)[1]))  # `full` has Fashion-MNIST
    def one_bench():
        root = Path(KEEP) / f"jobs{jobs}" if KEEP else tmp_path_factory.mktemp(f"jobs{jobs}")
        if (root / "runs").exists():
            pytest.fail(f"{root / 'runs'} exists: each arm must start from an empty runs folder")
        return bench(SUITE, runs=root / "runs", leaderboards=root / "lb", quiet=True, jobs=jobs)

    out = benchmark.pedantic(one_bench, rounds=1, iterations=1)
    assert not out["failed"] and out["ran"] > 0
    WALL[jobs] = benchmark.stats.stats.mean
    if len(WALL) == 2:
        print(f"\nbench {SUITE}: --jobs 1 {WALL[1]:.0f} s, --jobs 2 {WALL[2]:.0f} s: {WALL[1] / WALL[2]:.2f}x")
