"""The command line as a user meets it: answers on stdout, bad input as one line and exit 2."""

import argparse
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import REPO, assert_one_line_error, read_json


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One trained grid25 run, shared by the scoring tests."""
    from genbench.recipes import load_recipe
    from genbench.runs import run_recipe

    runs = tmp_path_factory.mktemp("runs")
    run_recipe(load_recipe("grid25/gmm"), 0, runs=runs, device="cpu", progress=False)
    return runs / "grid25/gmm/seed0/model.safetensors"


def test_list_shows_every_registry(cli):
    code, out, _ = cli("list")
    assert code == 0
    for word in ("datasets:", "ring8", "grid25", "digits", "models:", "gmm", "metrics:", "coverage",
                 "nll", "recipes:", "grid25/gmm", "suites:", "quick"):
        assert word in out


def test_train_writes_checkpoint_and_record(cli, tmp_path):
    code, out, _ = cli("train", "ring8/gmm", "--seed", 2, "--runs", tmp_path, "--quiet")
    assert code == 0 and "modes" in out
    run = tmp_path / "ring8/gmm/seed2"
    assert (run / "model.safetensors").is_file() and (run / "model.json").is_file()
    assert read_json(run / "record.json")["metrics"]["modes"] == 8


def test_score_checkpoint_json_form(cli, trained, tmp_path):
    out_file = tmp_path / "s.json"
    code, out, _ = cli("score", "--checkpoint", trained, "--json", out_file, "-q")
    assert code == 0 and "modes" in out
    doc = read_json(out_file)
    assert set(doc["metrics"]) == {"nll", "modes", "hq_fraction", "reverse_kl"}
    assert doc["metrics"]["modes"] == 25 and doc["n_samples"] == 2500 and doc["dataset"] == "grid25"
    assert "torch" in doc["versions"]


def test_score_samples_chosen_metrics(cli, tmp_path):
    from genbench.data import load_dataset

    path = tmp_path / "s.npy"
    np.save(path, load_dataset("ring8").test.numpy())
    code, out, _ = cli("score", "--samples", path, "--dataset", "ring8", "--metrics", "coverage", "--json",
                       tmp_path / "o.json")
    assert code == 0
    assert read_json(tmp_path / "o.json")["metrics"]["modes"] == 8


def bad_arrays(tmp_path):
    good = np.random.default_rng(0).normal(size=(50, 2))
    nan = good.copy()
    nan[7, 0] = np.nan
    inf = good.copy()
    inf[3, 1] = np.inf
    files = {
        "wrong shape": ("w.npy", good[:, :1], "shape (50, 1)"),
        "nan": ("n.npy", nan, "NaN or inf"),
        "inf": ("i.npy", inf, "NaN or inf"),
        "empty": ("e.npy", np.zeros((0, 2)), "empty"),
    }
    out = {}
    for key, (name, arr, needle) in files.items():
        np.save(tmp_path / name, arr)
        out[key] = (tmp_path / name, needle)
    (tmp_path / "t.npy").write_text("not numpy at all")
    out["garbage"] = (tmp_path / "t.npy", "cannot be read")
    (tmp_path / "x.csv").write_text("1,2\n")
    out["suffix"] = (tmp_path / "x.csv", "must be one of .npy, .npz")
    out["missing"] = (tmp_path / "nope.npy", "does not exist")
    return out


@pytest.mark.parametrize("case", ["wrong shape", "nan", "inf", "empty", "garbage", "suffix", "missing"])
def test_bad_samples_one_line_exit_2_nothing_written(cli, tmp_path, case):
    path, needle = bad_arrays(tmp_path)[case]
    out_json = tmp_path / "out.json"
    code, _, err = cli("score", "--samples", path, "--dataset", "grid25", "--json", out_json)
    assert_one_line_error(code, err, needle)
    assert not out_json.exists()


def test_checkpoint_that_is_not_safetensors(cli, trained, tmp_path):
    fake = tmp_path / "model.safetensors"
    fake.write_bytes(b"PK\x03\x04 a zip, maybe a pickle")
    (tmp_path / "model.json").write_text(trained.with_suffix(".json").read_text())
    code, _, err = cli("score", "--checkpoint", fake, "--json", tmp_path / "o.json")
    assert_one_line_error(code, err, "not a safetensors file")
    assert not (tmp_path / "o.json").exists()


@pytest.mark.parametrize("args, needle", [
    (["train", "grid25/gmn"], "did you mean 'grid25/gmm'"),
    (["train", "no/such.toml"], "does not exist"),
    (["score", "--samples", "x.npy"], "needs --dataset"),
    (["score", "--samples", "x.npy", "--dataset", "grid52"], "unknown dataset 'grid52'"),
    (["bench", "quik"], "unknown suite 'quik'"),
    (["gate", "--baseline", "nope.csv", "--results", "runs"], "does not exist"),
])
def test_bad_arguments(cli, tmp_path, args, needle):
    np.save(tmp_path / "x.npy", np.zeros((3, 2)))
    os.chdir(tmp_path)
    os.environ["GENBENCH_BASELINES"] = str(REPO / "baselines")
    try:
        code, _, err = cli(*args, "--quiet") if args[0] in ("train", "bench") else cli(*args)
    finally:
        del os.environ["GENBENCH_BASELINES"]
    assert_one_line_error(code, err, needle)
    assert not (tmp_path / "runs").exists()


def test_score_metric_that_needs_a_model(cli, tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((3, 2)))
    code, _, err = cli("score", "--samples", tmp_path / "x.npy", "--dataset", "ring8", "--metrics", "nll")
    assert_one_line_error(code, err, "needs a model with an exact log_prob")


def test_malformed_recipe_writes_nothing(cli, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('version = 1\ndataset = "digits"\n[model]\nname = "gmm"\n[score]\nmetrics = ["coverage"]\n')
    code, _, err = cli("train", bad, "--runs", tmp_path / "runs")
    assert_one_line_error(code, err, "'coverage' does not apply", "no known modes")
    assert not (tmp_path / "runs").exists()


def test_python_dash_m_is_the_same_cli():
    done = subprocess.run([sys.executable, "-m", "genbench", "list", "suites"], capture_output=True, text=True,
                          cwd=REPO)
    assert done.returncode == 0 and "quick" in done.stdout
    done = subprocess.run([sys.executable, "-m", "genbench", "train", "zzz/gmm"], capture_output=True, text=True,
                          cwd=REPO)
    assert done.returncode == 2 and "Traceback" not in done.stderr


def subcommands() -> dict:
    """genbench's commands by name, each its argparse parser."""
    from genbench.cli.main import build_parser

    parser = build_parser()
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices


def command_flags(commands: dict) -> dict[str, set[str]]:
    """Each command's flags, from `subcommands()`."""
    return {name: {f for a in sub._actions for f in a.option_strings} for name, sub in commands.items()}


def test_every_flag_a_help_text_names_is_a_flag_of_its_command():
    """A help text that points at another option (`--scoring-seed`, `--factory-kwargs`) names one its
    command has, so a renamed flag cannot leave a stale name behind in the help."""
    commands = subcommands()
    flags = command_flags(commands)
    checked = 0
    for name, sub in commands.items():
        for action in sub._actions:
            # Another command's flag counts where the text names that command first ("`bench --jobs 2`");
            # another tool's ("sacrebleu's --paired-bs") is not genbench's to check.
            for before, named in re.findall(r"([\w'-]*)`? ?(?<![\w-])(--[a-z][a-z0-9-]*)", action.help or ""):
                if before.endswith("'s"):
                    continue
                checked += 1
                assert named in flags[before if before in flags else name], \
                    f"genbench {name} {'/'.join(action.option_strings)}: help names {named}"
    assert checked > 10


def test_help_explains_each_command(cli):
    for command in ("list", "train", "score", "bench", "leaderboard", "gate"):
        with pytest.raises(SystemExit) as e:
            cli(command, "--help")
        assert e.value.code == 0


def test_every_flag_the_docs_give_a_command_is_a_flag_of_it():
    """`genbench CMD ... --flag` in README.md and docs/ names a flag CMD has (a renamed flag would
    otherwise leave the documented command failing for a new user)."""
    flags = command_flags(subcommands())
    checked = 0
    for path in [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]:
        for command, rest in re.findall(r"genbench ([\w-]+)((?:\\\||[^`\n|])*)", path.read_text()):
            if command not in flags:
                continue
            for named in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", rest):
                checked += 1
                assert named in flags[command], f"{path.name}: genbench {command} has no {named}"
    assert checked > 20


def test_every_command_is_an_api_function_with_the_same_options():
    """CLI flags and API keywords mirror each other one to one: `genbench X --a-b` is
    `genbench.X(a_b=...)` (`--quiet` aside where the function prints nothing to quiet)."""
    import argparse
    import inspect

    import genbench
    from genbench import api
    from genbench.cli.main import build_parser

    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert set(commands) - {"list"} == {n.replace("_", "-") for n in genbench.__all__ if n != "__version__"}
    for name, parser in commands.items():
        if name == "list":
            continue
        # From genbench.api: once `genbench.bench` the module is imported, it shadows the lazy attribute.
        keywords = set(inspect.signature(getattr(api, name.replace("-", "_"))).parameters)
        flags = {a.dest for a in parser._actions if a.dest != "help"}
        assert keywords - flags == set(), name
        assert flags - keywords <= {"quiet"}, name
