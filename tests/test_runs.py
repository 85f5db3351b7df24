"""A run: recipe + seed -> checkpoint + record, reproducibly."""

import json

import pytest
import torch

from genbench.checkpoint import load_checkpoint
from genbench.errors import GenbenchError
from genbench.recipes import load_recipe
from genbench.runs import run_recipe
from tests.conftest import REPO

VOLATILE = {"wall_time_s", "created", "digest"}  # the digest covers the timings too


def stable(record):
    """A record without its timings and timestamp."""
    out = {k: v for k, v in record.items() if k not in VOLATILE}
    out["train"] = {k: v for k, v in record["train"].items() if k not in VOLATILE}
    out["score"] = {k: v for k, v in record["score"].items() if k not in VOLATILE}
    return out


def test_same_seed_gives_an_identical_record(tmp_path):
    recipe = load_recipe("digits/gmm")
    a = run_recipe(recipe, 1, runs=tmp_path / "a", device="cpu", progress=False)
    b = run_recipe(recipe, 1, runs=tmp_path / "b", device="cpu", progress=False)
    c = run_recipe(recipe, 2, runs=tmp_path / "c", device="cpu", progress=False)
    assert stable(a) == stable(b)
    assert a["metrics"] != c["metrics"]
    on_disk = json.loads((tmp_path / "a/digits/gmm/seed1/record.json").read_text())
    assert on_disk["metrics"] == a["metrics"] and on_disk["recipe_hash"] == recipe.hash
    for key in ("recipe_version", "seed", "versions", "device", "hardware", "wall_time_s"):
        assert key in on_disk
    assert (tmp_path / "a/digits/gmm/seed1/model.safetensors").read_bytes() == \
        (tmp_path / "b/digits/gmm/seed1/model.safetensors").read_bytes()


def test_a_runs_numbers_do_not_depend_on_what_ran_before_it_in_the_process(tmp_path):
    """The first run of a process loads the feature extractor (its network's init draws from
    torch's global stream); that must not move the run's own draws, or a bench's first run, a
    worker's first run and `genbench train` would each give other numbers for the same seed."""
    from genbench import features

    text = (REPO / "baselines/digits/made.toml").read_text()
    text = text.replace("steps = 1400", "steps = 5").split("[score]")[0]
    (tmp_path / "made.toml").write_text(text + '[score]\nmetrics = ["nll", "is"]\nn_samples = 500\n')
    recipe = load_recipe(tmp_path / "made.toml")
    features._loaded.clear()  # as in a fresh process
    first = run_recipe(recipe, 0, runs=tmp_path / "a", device="cpu", progress=False, plots=False)
    assert features._loaded  # this run loaded the extractor
    second = run_recipe(recipe, 0, runs=tmp_path / "b", device="cpu", progress=False, plots=False)
    assert stable(first) == stable(second)


CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R)  CPU @ 2.20GHz
flags\t\t: fpu vme

processor\t: 1
model name\t: Intel(R) Xeon(R)  CPU @ 2.20GHz
"""


def test_record_names_the_cpu_model(tmp_path):
    """The same seed gives other numbers on another CPU: the record says which CPU it ran on."""
    import platform
    from pathlib import Path

    from genbench.env import cpu_model, hardware_label

    (tmp_path / "cpuinfo").write_text(CPUINFO)
    assert cpu_model(str(tmp_path / "cpuinfo")) == "Intel(R) Xeon(R) CPU @ 2.20GHz"
    (tmp_path / "arm").write_text("processor\t: 0\nBogoMIPS\t: 50.00\nCPU part\t: 0xd0c\n")
    fallback = platform.processor() or platform.machine()
    assert cpu_model(str(tmp_path / "arm")) == fallback == cpu_model(str(tmp_path / "absent"))

    record = run_recipe(load_recipe("ring8/gmm"), 0, runs=tmp_path, device="cpu", progress=False)
    info = Path("/proc/cpuinfo")
    if info.is_file() and "model name" in info.read_text(errors="replace"):
        assert record["hardware"]["cpu"] == cpu_model() != platform.machine()
    label = hardware_label(record["hardware"])
    assert record["hardware"]["cpu"] in label and label.startswith("CPU ")


def test_checkpoint_round_trip(tmp_path):
    recipe = load_recipe("ring8/gmm")
    run_recipe(recipe, 0, runs=tmp_path, device="cpu", progress=False)
    model, config = load_checkpoint(tmp_path / "ring8/gmm/seed0/model.safetensors")
    assert config["dataset"] == "ring8" and config["recipe_hash"] == recipe.hash
    x = torch.randn(10, 2)
    assert torch.isfinite(model.log_prob(x)).all()
    again, _ = load_checkpoint(tmp_path / "ring8/gmm/seed0/model.safetensors")
    assert torch.equal(model.log_prob(x), again.log_prob(x))


def test_a_file_that_is_not_safetensors_is_refused(tmp_path):
    recipe = load_recipe("ring8/gmm")
    run_recipe(recipe, 0, runs=tmp_path, device="cpu", progress=False)
    ckpt = tmp_path / "ring8/gmm/seed0/model.safetensors"
    ckpt.write_bytes(b"\x80\x04pickle? no thanks")
    with pytest.raises(GenbenchError, match="not a safetensors file"):
        load_checkpoint(ckpt)


def test_rescoring_a_checkpoint_reproduces_its_record(tmp_path):
    """`score --checkpoint` samples from the run's own scoring stream by default (recorded in the
    checkpoint's JSON and the record), so a run's checkpoint scored again gives its record's numbers."""
    from genbench import seeds
    from genbench.api import score

    recipe = load_recipe("ring8/gmm")
    record = run_recipe(recipe, 1, runs=tmp_path, device="cpu", progress=False, plots=False)
    ckpt = tmp_path / "ring8/gmm/seed1/model.safetensors"
    assert record["seeds"] == {"training": 1, "scoring": seeds.scoring(1), "plot": seeds.PLOT}
    assert json.loads(ckpt.with_suffix(".json").read_text())["scoring_seed"] == seeds.scoring(1)
    again = score(checkpoint=ckpt, metrics=recipe.metrics, n_samples=recipe.n_samples, device="cpu", quiet=True)
    assert again["scoring_seed"] == seeds.scoring(1)
    assert again["metrics"] == record["metrics"]
    # A checkpoint saved before the scoring seed was recorded: derived from its run's seed.
    config = json.loads(ckpt.with_suffix(".json").read_text())
    del config["scoring_seed"]
    ckpt.with_suffix(".json").write_text(json.dumps(config))
    assert score(checkpoint=ckpt, metrics=recipe.metrics, n_samples=recipe.n_samples, device="cpu",
                 quiet=True)["metrics"] == record["metrics"]
    other = score(checkpoint=ckpt, metrics=recipe.metrics, n_samples=recipe.n_samples, device="cpu", quiet=True, scoring_seed=0)
    assert other["scoring_seed"] == 0 and other["metrics"] != record["metrics"]


def test_a_checkpoint_carries_how_its_run_was_scored(tmp_path):
    """The recipe's metrics and sample count travel in the checkpoint's JSON, so `score --checkpoint`
    with no flags scores the run as its record; a flag still overrides them."""
    from genbench.api import score

    recipe = load_recipe("ring8/gmm")
    record = run_recipe(recipe, 0, runs=tmp_path, device="cpu", progress=False, plots=False)
    ckpt = tmp_path / "ring8/gmm/seed0/model.safetensors"
    assert json.loads(ckpt.with_suffix(".json").read_text())["score"] == {"metrics": ["nll", "coverage"],
                                                                          "n_samples": 2500}
    again = score(checkpoint=ckpt, device="cpu", quiet=True)
    assert again["metrics"] == record["metrics"] and again["n_samples"] == 2500
    fewer = score(checkpoint=ckpt, device="cpu", quiet=True, metrics="coverage", n_samples=500)
    assert set(fewer["metrics"]) == {"modes", "hq_fraction", "reverse_kl"} and fewer["n_samples"] == 500


@pytest.mark.parametrize("bad, message", [
    ("oops", "'score' is 'oops', not a table"),
    ({"metrics": ["fidd"]}, "unknown metric 'fidd'"),
    ({"n_samples": -3}, "n_samples must be a positive integer, got -3"),
    ({"eval_iters": "ten"}, "eval_iters must be a positive integer, got 'ten'"),
    ({"extractor": "nope"}, "unknown feature extractor 'nope'"),
    ({"samples": 10}, "unknown 'score' key 'samples'"),
])
def test_a_checkpoints_score_table_is_checked(tmp_path, bad, message):
    from genbench.api import score

    run_recipe(load_recipe("ring8/gmm"), 0, runs=tmp_path, device="cpu", progress=False, plots=False)
    ckpt = tmp_path / "ring8/gmm/seed0/model.safetensors"
    config = json.loads(ckpt.with_suffix(".json").read_text())
    ckpt.with_suffix(".json").write_text(json.dumps({**config, "score": bad}))
    with pytest.raises(GenbenchError, match=message.replace("(", r"\(")) as e:
        score(checkpoint=ckpt, device="cpu", quiet=True)
    assert "\n" not in str(e.value)


def test_an_option_no_chosen_metric_takes_is_refused(tmp_path):
    """build_metric drops options a metric does not take: asked for with none that takes it, the option
    would read as applied, so it is refused in one line."""
    from genbench.scoring import select_metrics
    from genbench.data import load_dataset

    ring = load_dataset("ring8")
    with pytest.raises(GenbenchError, match=r"--kid-subset-size is taken by none of the metrics scored \(coverage\)"):
        select_metrics(ring, ["coverage"], False, False, {"kid_subset_size": 50, "baselines": str(tmp_path)})
    assert [m.name for m in select_metrics(ring, ["coverage"], False, False, {"kid_subset_size": None})] == ["coverage"]
