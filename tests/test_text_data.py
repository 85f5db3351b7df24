"""shakespeare-char's windows: overlapping training windows leave the held-out split untouched."""

import pytest

from genbench.data import load_dataset
from genbench.errors import GenbenchError


def test_train_stride_overlaps_training_windows_only():
    plain = load_dataset("shakespeare-char", {"context": 64})
    dense = load_dataset("shakespeare-char", {"context": 64, "train_stride": 16})
    assert dense.test.equal(plain.test)
    assert len(dense.train) == pytest.approx(4 * len(plain.train), abs=4)
    assert dense.train[::4][: len(plain.train)].equal(plain.train[: len(dense.train[::4])])
    assert dense.train[1, :48].equal(dense.train[0, 16:])  # consecutive windows overlap by 48
    assert "train_stride" in dense.params and "train_stride" not in plain.params


@pytest.mark.parametrize("stride, needle", [(0, "'train_stride' must be int >= 1"), (65, "train_stride must be in 1..context")])
def test_bad_train_stride(stride, needle):
    with pytest.raises(GenbenchError, match=needle):
        load_dataset("shakespeare-char", {"context": 64, "train_stride": stride})
