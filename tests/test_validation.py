"""Values, not only types: out-of-range recipes and invalid checkpoints are one line, exit 2, nothing written."""

import inspect
import json
import math
import types
import typing

import pytest
import torch

from genbench.checkpoint import save_checkpoint
from genbench.data import DATASETS
from genbench.errors import GenbenchError
from genbench.features.cnn import DomainCNN
from genbench.features.train import ClassifierTrain
from genbench.models import FROM_DATASET, MODELS, build_model
from genbench.registry import Range, check_params
from genbench.training import TrainConfig
from tests.conftest import assert_one_line_error

RECIPE = """version = 1
dataset = {dataset}
[model]
name = "{model}"
{model_params}
[train]
{train_params}
"""


def assert_train_refused(cli, tmp_path, needle, dataset='"ring8"', model="gmm", model_params="", train_params=""):
    """`genbench train` of this recipe is one line, exit 2, and writes no run folder."""
    recipe = tmp_path / "r.toml"
    if not train_params.startswith("steps"):
        train_params = "steps = 2\n" + train_params
    recipe.write_text(RECIPE.format(dataset=dataset, model=model, model_params=model_params, train_params=train_params))
    code, _, err = cli("train", recipe, "--runs", tmp_path / "runs", "--quiet")
    assert_one_line_error(code, err, needle)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("dataset", ["5", "[1, 2]", "{ n_train = 10 }", "{ name = 3 }"])
def test_a_dataset_that_is_not_a_name_or_table_is_refused(cli, tmp_path, dataset):
    assert_train_refused(cli, tmp_path, "'dataset' must be a name or a table with a 'name'", dataset=dataset)


@pytest.mark.parametrize("model, model_params, train_params, needle", [
    # [train]: every numeric key
    ("gmm", "", "batch_size = 0", "'batch_size' must be int >= 1 or 'full', got 0"),
    ("gmm", "", "batch_size = -5", "'batch_size' must be int >= 1 or 'full', got -5"),
    ("gmm", "", "steps = 0", "'steps' must be int >= 1, got 0"),
    ("gmm", "", "steps = -3", "'steps' must be int >= 1, got -3"),
    ("vae", "", "lr = -0.001", "'lr' must be finite float > 0, got -0.001"),
    ("vae", "", "lr = 0.0", "'lr' must be finite float > 0, got 0.0"),
    ("vae", "", "lr = inf", "'lr' must be finite float > 0, got inf"),
    ("vae", "", "beta1 = 1.0", "'beta1' must be finite float in [0, 1), got 1.0"),
    ("vae", "", "beta2 = -0.5", "'beta2' must be finite float in [0, 1), got -0.5"),
    ("vae", "", "weight_decay = -0.1", "'weight_decay' must be finite float >= 0"),
    ("vae", "", "grad_clip = nan", "'grad_clip' must be finite float >= 0, got nan"),
    ("vae", "", "warmup_steps = -1", "'warmup_steps' must be int >= 0, got -1"),
    ("vae", "", "checkpoint_every = -1", "'checkpoint_every' must be int >= 0, got -1"),
    ("vae", "", "ema = 1.0", "'ema' must be finite float in [0, 1), got 1.0"),
    ("vae", "", "ema = -0.1", "'ema' must be finite float in [0, 1), got -0.1"),
    ("vae", "", "augment_shift = -2", "'augment_shift' must be int >= 0, got -2"),
    # model hyper-parameters
    ("gmm", "reg_covar = -1e-3", "", "'reg_covar' must be finite float >= 0, got -0.001"),
    ("gmm", "tol = nan", "", "'tol' must be finite float >= 0, got nan"),
    ("gmm", "components = 0", "", "'components' must be int >= 1, got 0"),
    ("gmm", "components = -4", "", "'components' must be int >= 1, got -4"),
    ("gmm", "kmeans_iters = -1", "", "'kmeans_iters' must be int >= 0"),
    ("vae", "latent = 0", "", "'latent' must be int >= 1, got 0"),
    ("vae", "dropout = 1.0", "", "'dropout' must be finite float in [0, 1), got 1.0"),
    ("realnvp", "layers = 0", "", "'layers' must be int >= 1, got 0"),
    ("made", "components = 0", "", "'components' must be int >= 1"),
    ("ddpm", "timesteps = 0", "", "'timesteps' must be int >= 1"),
    ("ddpm", "beta_end = 1.5", "", "'beta_end' must be finite float in (0, 1), got 1.5"),
])
def test_out_of_range_values_are_refused_before_anything_is_written(cli, tmp_path, model, model_params,
                                                                     train_params, needle):
    assert_train_refused(cli, tmp_path, needle, model=model, model_params=model_params, train_params=train_params)


@pytest.mark.parametrize("model_params, needle", [
    ("temperature = 0.0", "'temperature' must be finite float > 0, got 0.0"),
    ("top_k = -1", "'top_k' must be int >= 0, got -1"),
    ("discount = 0.0", "'discount' must be finite float in (0, 1] or None, got 0.0"),
    ("order = 0", "'order' must be int >= 1, got 0"),
])
def test_text_model_ranges(cli, tmp_path, model_params, needle):
    oracle = '{ name = "oracle", vocab_size = 8, length = 4, n_train = 20, n_test = 10 }'
    assert_train_refused(cli, tmp_path, needle, dataset=oracle, model="ngram", model_params=model_params)


@pytest.mark.parametrize("line, needle", [
    ('seed = "x"', "'seed' must be a non-negative integer, got 'x'"),
    ("seed = -1", "'seed' must be a non-negative integer, got -1"),
    ("[train]\nepochs = 0", "'epochs' must be int >= 1, got 0"),
    ("[train]\nlr = nan", "'lr' must be finite float > 0, got nan"),
    ("[classifier]\nwidth = 0", "'width' must be int >= 1, got 0"),
])
def test_classifier_recipe_ranges(cli, tmp_path, line, needle):
    recipe = tmp_path / "digits" / "classifier.toml"
    recipe.parent.mkdir()
    recipe.write_text(f'version = 1\ndataset = "digits"\n{line}\n')
    code, _, err = cli("train-extractor", recipe, "-q")
    assert_one_line_error(code, err, needle)
    assert sorted(p.name for p in recipe.parent.iterdir()) == ["classifier.toml"]


@pytest.mark.parametrize("model, model_params, needle", [
    ("pixelcnn", "kernel = 1", "'kernel' must be int >= 3, got 1"),
    ("pixelcnn", "kernel = 4", "kernel (4) must be odd"),
    ("glow", "alpha = 0.5", "'alpha' must be finite float in (0, 0.5), got 0.5"),
    ("glow", "scales = 0", "'scales' must be int >= 1, got 0"),
])
def test_image_model_ranges(cli, tmp_path, model, model_params, needle):
    assert_train_refused(cli, tmp_path, needle, dataset='"digits"', model=model, model_params=model_params)


def test_joint_ranges_are_checked_by_the_model(cli, tmp_path):
    assert_train_refused(cli, tmp_path, "beta_start 0.1 must be <= beta_end 0.01", model="ddpm",
                         model_params="beta_start = 0.1\nbeta_end = 0.01")


def gmm_checkpoint(tmp_path, covariance, config_edit=None, state_edit=None):
    model = build_model("gmm", (2,), {"components": 3, "covariance": covariance})
    if state_edit:
        state_edit(model)
    path = save_checkpoint(model, tmp_path / "model.safetensors", {"dataset": "ring8", "dataset_params": {}})
    if config_edit:
        cfg = json.loads(path.with_suffix(".json").read_text())
        config_edit(cfg)
        path.with_suffix(".json").write_text(json.dumps(cfg))
    return path


def zero_cov(m):
    m.cov.zero_()


def unnormalised(m):
    m.log_pi.fill_(0.0)


def nan_mean(m):
    m.mu[1, 0] = math.nan


@pytest.mark.parametrize("covariance, config_edit, state_edit, needle", [
    ("full", None, zero_cov, "covariance of component 0 is not positive definite"),
    ("diag", None, zero_cov, "covariance of component 0 is not positive definite"),
    ("full", None, unnormalised, "mixture weights sum to 3"),
    ("diag", None, nan_mean, "means and mixture weights must be finite"),
    ("full", lambda c: c.update(data_shape=[-2]), None, "data_shape must be positive integers, got [-2]"),
    ("full", lambda c: c.update(data_shape=[]), None, "data_shape must be positive integers, got []"),
    ("full", lambda c: c.update(data_shape=5), None, "is malformed"),
    ("full", lambda c: c["hparams"].update(components=0), None, "'components' must be int >= 1, got 0"),
    ("full", lambda c: c["hparams"].update(reg_covar=-1.0), None, "'reg_covar' must be finite float >= 0"),
])
def test_a_checkpoint_with_invalid_values_is_refused(cli, tmp_path, covariance, config_edit, state_edit, needle):
    ckpt = gmm_checkpoint(tmp_path, covariance, config_edit, state_edit)
    out = tmp_path / "scores.json"
    code, _, err = cli("score", "--checkpoint", ckpt, "--json", out, "--quiet")
    assert_one_line_error(code, err, needle, str(ckpt.parent))
    assert not out.exists()


def test_an_ngram_checkpoint_with_a_discount_above_one_is_refused(cli, tmp_path):
    model = build_model("ngram", (4,), {"order": 2}, vocab=["a", "b", "c"])
    model.initialize(torch.tensor([[0, 1, 2, 1], [2, 1, 0, 0]]), torch.Generator())
    model.discount[1] = 2.0
    ckpt = save_checkpoint(model, tmp_path / "model.safetensors", {"dataset": "oracle", "dataset_params": {}})
    code, _, err = cli("score", "--checkpoint", ckpt, "--json", tmp_path / "scores.json", "--quiet")
    assert_one_line_error(code, err, "invalid 'ngram' parameters: discounts must be in (0, 1]")
    assert not (tmp_path / "scores.json").exists()


def test_a_valid_checkpoint_still_loads(cli, tmp_path):
    ckpt = gmm_checkpoint(tmp_path, "full")
    code, _, err = cli("score", "--checkpoint", ckpt, "--metrics", "coverage", "--quiet")
    assert code == 0, err


# -- the mechanism: declared ranges, checked in one place ---------------------------------------

def _f(a: typing.Annotated[int, Range(1)] = 1, b: typing.Annotated[float, Range(0, 1, high_open=True)] = 0.5,
       c: float = 0.0, d: typing.Annotated[int, Range(1)] | typing.Literal["full"] = "full"):
    pass


@pytest.mark.parametrize("params", [{"a": 1}, {"a": 10**9}, {"b": 0}, {"b": 0.999}, {"c": -1e300}, {"d": 3},
                                    {"d": "full"}])
def test_check_params_accepts_values_in_range(params):
    assert check_params("f", _f, params) == params


@pytest.mark.parametrize("params, needle", [
    ({"a": 0}, "'a' must be int >= 1, got 0"),
    ({"b": 1}, "'b' must be finite float in [0, 1), got 1"),
    ({"b": -0.0001}, "'b' must be finite float in [0, 1)"),
    ({"c": math.nan}, "'c' must be finite float, got nan"),
    ({"c": -math.inf}, "'c' must be finite float, got -inf"),
    ({"c": 10**400}, "'c' must be finite float"),
    ({"d": 0}, "'d' must be int >= 1 or 'full', got 0"),
    ({"a": 1.5}, "'a' must be int >= 1, got 1.5"),
])
def test_check_params_refuses_values_out_of_range(params, needle):
    with pytest.raises(GenbenchError) as e:
        check_params("f", _f, params)
    assert needle in str(e.value)


def test_range_reads_as_its_interval():
    assert str(Range(1)) == ">= 1" and str(Range(0, low_open=True)) == "> 0"
    assert str(Range(0, 1, high_open=True)) == "in [0, 1)" and str(Range(0, 1, low_open=True)) == "in (0, 1]"
    assert 0 in Range(0) and 0 not in Range(0, low_open=True) and 1 not in Range(0, 1, high_open=True)


def declarers():
    """Every function whose keyword parameters a user sets from a file: (label, fn, skipped names)."""
    out = [("[train]", TrainConfig, ()), ("[classifier]", DomainCNN.__init__, ("self",)),
           ("classifier [train]", ClassifierTrain, ())]
    out += [(f"model {n!r}", cls.__init__, ("self", "data_shape", *FROM_DATASET)) for n, cls in MODELS.items()]
    out += [(f"dataset {n!r}", fn, ()) for n, fn in DATASETS.items()]
    return [pytest.param(*entry, id=entry[0]) for entry in out]


@pytest.mark.parametrize("label, fn, skip", declarers())
def test_every_numeric_parameter_declares_its_range_and_its_default_is_in_it(label, fn, skip):
    hints = typing.get_type_hints(fn, include_extras=True)
    params = {k: p for k, p in inspect.signature(fn).parameters.items() if k not in skip}
    for name in params:
        hint = hints.get(name)
        options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
        for option in options:
            if option in (int, float):
                pytest.fail(f"{label} parameter {name!r} is a bare {option.__name__}: declare its range "
                            "(genbench.registry.Count, Natural, Positive, NonNegative, Fraction, or Range)")
    defaults = {k: p.default for k, p in params.items() if p.default is not inspect.Parameter.empty}
    check_params(label, fn, defaults, skip=skip)


def test_a_model_refuses_a_zero_component_gmm_in_python_too():
    with pytest.raises(GenbenchError, match="'components' must be int >= 1, got 0"):
        build_model("gmm", (2,), {"components": 0})
    assert torch.isfinite(build_model("gmm", (2,), {"components": 1}).log_pi).all()
