from typing import Literal

import pytest

from genbench.data import DATASETS
from genbench.errors import GenbenchError
from genbench.metrics import METRICS, OUTPUTS
from genbench.models import MODELS
from genbench.registry import Registry, check_params


def test_unknown_name_lists_valid_and_closest():
    with pytest.raises(GenbenchError) as e:
        DATASETS.get("grid26")
    msg = str(e.value)
    listed = msg.split("valid datasets: ")[1].split(" (")[0].split(", ")
    assert listed == sorted(DATASETS.names()) and {"digits", "grid25", "ring8"} <= set(listed)
    assert "did you mean 'grid25'" in msg


def test_unknown_name_without_close_match_has_no_guess():
    with pytest.raises(GenbenchError) as e:
        MODELS.get("zzzzzz")
    assert "did you mean" not in str(e.value) and "gmm" in str(e.value)


def test_double_registration_is_refused():
    reg = Registry("thing")
    reg.register("a")(1)
    with pytest.raises(ValueError):
        reg.register("a")(2)


def test_every_metric_output_is_declared_once():
    keys = [o.key for _, cls in METRICS.items() for o in cls.outputs]
    assert len(keys) == len(set(keys)) == len(OUTPUTS)


def _f(a: int = 1, b: float = 0.5, c: Literal["x", "y"] = "x", d: int | Literal["full"] = "full"):
    pass


@pytest.mark.parametrize("params", [{"a": 3}, {"b": 2}, {"b": 2.5}, {"c": "y"}, {"d": 4}, {"d": "full"}])
def test_check_params_accepts_valid(params):
    assert check_params("f", _f, params) == params


@pytest.mark.parametrize("params, needle", [
    ({"a": "3"}, "'a' must be int"),
    ({"a": 2.0}, "'a' must be int"),
    ({"a": True}, "'a' must be int"),
    ({"c": "z"}, "one of 'x', 'y'"),
    ({"d": "half"}, "'d' must be"),
    ({"e": 1}, "unknown f parameter 'e'"),
])
def test_check_params_refuses_invalid(params, needle):
    with pytest.raises(GenbenchError) as e:
        check_params("f", _f, params)
    assert needle in str(e.value)
