"""Hardening round 3 (issue #33, items 7-12): inputs that used to end in a traceback, run until killed,
end silently, be accepted, or be refused with a wrong reason. Each gets one line and exit 2 (or the
right words), before anything is written. Fast: no training beyond one ring8 GMM run."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from genbench.record_file import seal
from tests.conftest import REPO, assert_edited_recipe_refused, assert_one_line_error, read_json

MOD = "tests.user_factories"
HUGE = 10**12  # samples: terabytes of ring8 points


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """One trained ring8 GMM run folder."""
    from genbench.recipes import load_recipe
    from genbench.runs import run_recipe

    runs = tmp_path_factory.mktemp("runs")
    run_recipe(load_recipe("ring8/gmm"), 0, runs=runs, device="cpu", progress=False, plots=False)
    return runs / "ring8/gmm/seed0"


def edited_checkpoint(checkpoint, tmp_path, edit):
    """A copy of the run's checkpoint whose model.json `edit` changes (a dict -> its new JSON text)."""
    folder = tmp_path / "ck"
    shutil.copytree(checkpoint, folder)
    config = json.loads((folder / "model.json").read_text())
    (folder / "model.json").write_text(edit(config))
    return folder / "model.safetensors"


# --- 7: tracebacks become one line ---------------------------------------------------------------

def test_a_model_too_big_for_memory_is_one_line(cli, tmp_path):
    assert_edited_recipe_refused(cli, tmp_path, "grid25/gmm", "components = 25", "components = 10000000000000",
                                 "model 'gmm'", "does not fit in memory", "tried to allocate")


@pytest.mark.parametrize("where", ["recipe", "--seed", "--scoring-seed"])
def test_a_seed_beyond_64_bits_is_refused(cli, tmp_path, where):
    if where == "recipe":
        assert_edited_recipe_refused(cli, tmp_path, "grid25/gmm", "seeds = [0, 1, 2]", f"seeds = [{2**70}]",
                                     "'seeds' must be in 0..", str(2**70))
        return
    args = (["train", "ring8/gmm", "--runs", tmp_path / "runs"] if where == "--seed" else
            ["score", "--factory", f"{MOD}:ring", "--dataset", "ring8", "--json", tmp_path / "o.json"])
    code, _, err = cli(*args, where, 2**70)
    assert_one_line_error(code, err, f"{where} must be in 0..", "64-bit seed")
    assert not (tmp_path / "runs").exists() and not (tmp_path / "o.json").exists()


def test_a_deeply_nested_recipe_is_one_line(cli, tmp_path):
    path = tmp_path / "deep.toml"
    path.write_text("a = " + "[" * 100_000 + "]" * 100_000 + "\n")
    code, _, err = cli("train", path, "--runs", tmp_path / "runs")
    assert_one_line_error(code, err, "nested too deeply")


@pytest.mark.parametrize("value, needle", [
    ("abc", "'scoring_seed' must be an integer, got 'abc'"),
    (2**70, "'scoring_seed' must be in 0.."),
    (-5, "'scoring_seed' must be in 0..9223372036854765807 (a 64-bit seed), got -5"),  # 10: as the CLI refuses -1
    (1.5, "'scoring_seed' must be an integer, got 1.5"),
])
def test_a_bad_scoring_seed_in_model_json_is_refused(cli, checkpoint, tmp_path, value, needle):
    ck = edited_checkpoint(checkpoint, tmp_path, lambda c: json.dumps({**c, "scoring_seed": value}))
    code, _, err = cli("score", "--checkpoint", ck, "--json", tmp_path / "o.json")
    assert_one_line_error(code, err, "model.json", needle)
    assert not (tmp_path / "o.json").exists()


def test_a_deeply_nested_model_json_is_one_line(cli, checkpoint, tmp_path):
    ck = edited_checkpoint(checkpoint, tmp_path, lambda c: "[" * 100_000 + "]" * 100_000)
    code, _, err = cli("score", "--checkpoint", ck)
    assert_one_line_error(code, err, "model.json is malformed", "RecursionError")


def test_model_json_format_is_checked(cli, checkpoint, tmp_path):  # 10
    ck = edited_checkpoint(checkpoint, tmp_path, lambda c: json.dumps({**c, "format": "other/9"}))
    code, _, err = cli("score", "--checkpoint", ck)
    assert_one_line_error(code, err, "'format' is 'other/9', not 'genbench-checkpoint/1'")


def test_an_npy_header_claiming_terabytes_is_refused_before_numpy_allocates(cli, tmp_path):
    path = tmp_path / "huge.npy"
    with path.open("wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (HUGE, 2)})
        f.write(b"\0" * 80)
    code, _, err = cli("score", "--samples", path, "--dataset", "ring8")
    assert_one_line_error(code, err, "is truncated", f"shape ({HUGE}, 2)", "holds 80 bytes")


def test_a_factory_returning_an_object_array_is_one_line(cli):
    code, _, err = cli("score", "--factory", f"{MOD}:object_array", "--dataset", "ring8")
    assert_one_line_error(code, err, "returned a numpy array of dtype object; expected numbers")


def test_a_truncated_safetensors_in_an_hf_folder_is_refused_by_genbench_itself(cli, tmp_path):
    """Read before transformers is imported, so the check holds (and is tested) without it."""
    import torch
    from safetensors.torch import save

    folder = tmp_path / "lm"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    data = save({"w": torch.zeros(1000)})
    (folder / "model.safetensors").write_bytes(data[: len(data) // 2])
    code, _, err = cli("score", "--hf-model", folder, "--dataset", "shakespeare-char")
    assert_one_line_error(code, err, "model.safetensors is not a complete safetensors file")


def test_a_record_metric_that_is_a_string_is_one_line(cli, checkpoint, tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(checkpoint, runs / "ring8/gmm/seed0")
    path = runs / "ring8/gmm/seed0/record.json"
    record = read_json(path)
    # sealed, as a writer's bug would leave it: the digest matches, the content is still wrong
    path.write_text(json.dumps(seal({**record, "metrics": {**record["metrics"], "nll": "low"}})))
    (tmp_path / "b.csv").write_text("recipe,recipe_hash,n_seeds,nll\nring8/gmm,x,1,1.0\n")
    code, _, err = cli("gate", "--baseline", tmp_path / "b.csv", "--results", runs)
    assert_one_line_error(code, err, "metric 'nll' is 'low', not a number")
    code, _, err = cli("leaderboard", "quick", "--runs", runs, "--leaderboards", tmp_path / "lb", "--no-plots")
    assert_one_line_error(code, err, "run record of 'ring8/gmm' seed 0: metric 'nll' is 'low', not a number")
    path.write_text(json.dumps(seal({**record, "metrics": "oops"})))
    code, _, err = cli("leaderboard", "quick", "--runs", runs, "--leaderboards", tmp_path / "lb", "--no-plots")
    assert_one_line_error(code, err, "'metrics' is 'oops', not a table of metric values")
    assert not (tmp_path / "lb").exists()


def test_json_to_stdout_in_a_pipe(tmp_path):
    """`--json -` (and /dev/stdout, which a rename cannot replace) print the JSON alone on stdout; the
    summary goes to stderr. Run as a user runs it, through a real pipe."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for target in ("-", "/dev/stdout"):
        done = subprocess.run([sys.executable, "-m", "genbench", "score", "--factory", f"{MOD}:ring",
                               "--dataset", "ring8", "--metrics", "coverage", "--json", target, "--quiet"],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["metrics"]["modes"] == 8
        assert "ring8: 2500 samples" in done.stderr and "Traceback" not in done.stderr


# --- 8: sample counts that cannot fit are refused before any work -----------------------------------

def test_n_samples_beyond_memory_is_refused_up_front(cli, checkpoint, tmp_path):
    for source in (["--checkpoint", checkpoint / "model.safetensors"],
                   ["--factory", f"{MOD}:ring", "--dataset", "ring8"]):
        code, _, err = cli("score", *source, "--n-samples", HUGE, "--json", tmp_path / "o.json")
        assert_one_line_error(code, err, f"--n-samples {HUGE}", "of memory, more than the", "available")
    assert not (tmp_path / "o.json").exists()
    assert_edited_recipe_refused(cli, tmp_path, "grid25/gmm", "n_samples = 2500", f"n_samples = {HUGE}",
                                 f"[score] n_samples {HUGE}", "of memory")


# --- 9: sys.exit or Ctrl-C inside the user's code ----------------------------------------------------

@pytest.mark.parametrize("factory, needle", [
    ("exits", "the factory failed (SystemExit: 0 at user_factories.py:"),
    ("exits_while_sampling", "failed drawing 64 samples (SystemExit: 3"),
    ("interrupted", "the factory failed (KeyboardInterrupt"),
])
def test_exit_inside_a_factory_is_an_error_naming_it(cli, tmp_path, factory, needle):
    code, _, err = cli("score", "--factory", f"{MOD}:{factory}", "--dataset", "ring8", "--json", tmp_path / "o.json")
    assert_one_line_error(code, err, f"--factory {MOD}:{factory}", needle)
    assert not (tmp_path / "o.json").exists()


# --- 10: values that were accepted -------------------------------------------------------------------

@pytest.mark.parametrize("metrics", ["", ",,", " , "])
def test_metrics_naming_nothing_is_refused_not_read_as_all(cli, metrics):
    code, _, err = cli("score", "--factory", f"{MOD}:ring", "--dataset", "ring8", "--metrics", metrics)
    assert_one_line_error(code, err, "names no metric")


def test_dataset_with_features_is_refused(cli, tmp_path):
    np.save(tmp_path / "f.npy", np.random.default_rng(0).normal(size=(200, 4)))
    code, _, err = cli("score", "--features", tmp_path / "f.npy", "--reference-features", tmp_path / "f.npy",
                       "--dataset", "ring8")
    assert_one_line_error(code, err, "--dataset does not apply to --features")


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a machine without a GPU")
def test_bench_on_a_device_it_lacks_is_refused_up_front(cli, tmp_path):
    code, _, err = cli("bench", "quick", "--device", "cuda", "--runs", tmp_path / "runs",
                       "--leaderboards", tmp_path / "lb")
    assert_one_line_error(code, err, "device 'cuda' was asked for but torch sees no GPU")
    assert not (tmp_path / "runs").exists() and not (tmp_path / "lb").exists()


# --- 11: the Python API checks each keyword at its edge ----------------------------------------------

@pytest.mark.parametrize("call, needle", [
    (lambda g, t: g.score(factory=f"{MOD}:ring", dataset="ring8", n_samples="10"),
     "--n-samples must be an integer, got '10' (str)"),
    (lambda g, t: g.gate(t / "b.csv", t / "r", alpha="0.1"), "--alpha must be a finite number, got '0.1' (str)"),
    (lambda g, t: g.bench("quick", runs=t / "r", jobs="2"), "--jobs must be an integer, got '2' (str)"),
    (lambda g, t: g.score(samples=123, dataset="ring8"), "--samples must be a path (a str or os.PathLike), got 123"),
    (lambda g, t: g.score(samples=np.zeros((3, 2)), dataset="ring8"), "--samples must be a path"),
    (lambda g, t: g.train("ring8/gmm", runs=None), "--runs must be a path"),
    (lambda g, t: g.train("ring8/gmm", seed=True, runs=t / "r"), "--seed must be an integer, got True (bool)"),
    (lambda g, t: g.gate(t / "b.csv", t / "r", tolerance=[("nll", 0.1)]),
     "--tolerance must be a string or a list of strings"),
    (lambda g, t: g.leaderboard("quick", runs=t / "r", leaderboards=3), "--leaderboards must be a path"),
])
def test_api_keywords_of_the_wrong_type_are_refused_with_the_flag(tmp_path, call, needle):
    from genbench import api
    from genbench.errors import GenbenchError

    with pytest.raises(GenbenchError) as caught:
        call(api, tmp_path)
    assert needle in str(caught.value)
    assert not (tmp_path / "r").exists()


def test_api_sacrebleu_as_one_string_is_one_option(tmp_path):
    from genbench import api as genbench

    (tmp_path / "h.txt").write_text("the cat sat on the mat\n")
    (tmp_path / "r.txt").write_text("the cat sat on a mat\n")
    one = genbench.score(text=str(tmp_path / "h.txt"), refs=str(tmp_path / "r.txt"), sacrebleu="tokenize=intl")
    listed = genbench.score(text=str(tmp_path / "h.txt"), refs=str(tmp_path / "r.txt"), sacrebleu=["tokenize=intl"])
    assert one["metrics"] == listed["metrics"] and "tok:intl" in json.dumps(one["info"])


# --- 12: messages that said the wrong thing ----------------------------------------------------------

@pytest.mark.parametrize("kind, needle", [("folder", "is a folder"), ("fifo", "is a FIFO"),
                                          ("loop", "is a symlink loop"), ("absent", "does not exist")])
def test_a_recipe_path_says_what_is_there(cli, tmp_path, kind, needle):
    path = tmp_path / "r.toml"
    if kind == "folder":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "loop":
        (tmp_path / "s.toml").symlink_to(path)
        path.symlink_to(tmp_path / "s.toml")
    code, _, err = cli("train", path, "--runs", tmp_path / "runs")
    assert_one_line_error(code, err, f"recipe file {path} {needle}")


def test_finite_samples_beyond_float32_are_not_called_nan(cli, tmp_path):
    np.save(tmp_path / "x.npy", np.full((100, 2), 1e300))
    code, _, err = cli("score", "--samples", tmp_path / "x.npy", "--dataset", "ring8")
    assert_one_line_error(code, err, "beyond float32's range", "1e+300", "100 of 100 rows")
    assert "NaN" not in err


def test_a_nan_result_fails_the_gate_as_nan_not_as_significant(cli, tmp_path):
    (tmp_path / "b.csv").write_text("recipe,recipe_hash,n_seeds,nll,nll_std\nring8/gmm,000000000000,3,1.0,0\n")
    (tmp_path / "r.csv").write_text("recipe,recipe_hash,n_seeds,nll,nll_std\nring8/gmm,000000000001,3,,\n")
    code, out, _ = cli("gate", "--baseline", tmp_path / "b.csv", "--results", tmp_path / "r.csv")
    assert code == 1
    assert "1 of 1 metric(s) NaN in the results" in out and "ring8/gmm: nll is NaN" in out
    assert "significantly" not in out.split("note:")[0] and "p = 0.5" not in out


def test_a_hash_of_zeros_stays_a_hash(cli, tmp_path):
    (tmp_path / "b.csv").write_text("recipe,recipe_hash,n_seeds,nll\nring8/gmm,000000000000,1,1.0\n")
    (tmp_path / "r.csv").write_text("recipe,recipe_hash,n_seeds,nll\nring8/gmm,000000000123,1,1.0\n")
    code, out, _ = cli("gate", "--baseline", tmp_path / "b.csv", "--results", tmp_path / "r.csv")
    assert code == 0 and "hash 000000000000 -> 000000000123" in out


def test_fid_of_a_set_against_itself_is_zero(cli, tmp_path):
    np.save(tmp_path / "f.npy", np.random.default_rng(0).normal(size=(200, 8)))
    from genbench.api import score

    out = score(features=str(tmp_path / "f.npy"), reference_features=str(tmp_path / "f.npy"),
                metrics="fid")
    assert out["metrics"]["fid@features"] == 0.0


def test_markdown_cells_carry_record_text_inert():
    from genbench.leaderboard.records import aggregate
    from genbench.leaderboard.table import to_markdown

    records = [{"recipe": "ring8/<script>x</script>", "recipe_hash": "h", "seed": s, "dataset": "ring8",
                "model": "gmm|<b>`x`</b>", "metrics": {"nll": 1.0}, "score": {"n_samples": 10,
                "unscored": {"fid": "broke <img src=x> [a](javascript:1)"}} if s else {"n_samples": 10},
                "train": {"wall_time_s": 1.0}, "device": "cpu", "hardware": {"cpu": "<i>cpu</i>"}}
               for s in (0, 1)]
    md = to_markdown(aggregate(records), "t", "", records, {}, [])
    assert "<script" not in md and "<b>" not in md and "<img" not in md and "<i>" not in md
    assert "&lt;script&gt;" in md and "gmm\\|&lt;b&gt;\\`x\\`&lt;/b&gt;" in md and "\\[a\\](javascript:1)" in md
    row = next(line for line in md.splitlines() if "gmm\\|" in line)
    assert row.count(" | ") == row.replace("\\|", "").count(" | ")  # no cell split by the record's bar
