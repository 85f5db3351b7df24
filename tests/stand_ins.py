"""Generated stand-ins for image datasets whose files a machine may lack (MNIST and CIFAR-10 are never
offline here; Fashion-MNIST only where Debian's dataset-fashion-mnist is installed). Tests that check a
recipe's code path, not its numbers, run on these: random images of the dataset's shape and grey levels,
scored with a committed domain extractor of the same channel count. They live in the tests alone, so
no recipe, CLI command or API call can reach them."""

import functools

import pytest
import torch

import genbench.recipes
import genbench.runs
from genbench.data import Dataset, load_dataset
from genbench.errors import GenbenchError

SHAPES = {"mnist": (1, 28, 28), "fashion-mnist": (1, 28, 28), "cifar10": (3, 32, 32)}


def stand_in(name: str) -> Dataset:
    shape = SHAPES[name]
    g = torch.Generator().manual_seed(0)
    train = torch.randint(0, 256, (500, *shape), generator=g).float()  # > 384 features of the 3-channel extractor
    test = torch.randint(0, 256, (200, *shape), generator=g).float()
    return Dataset(name=name, kind="image", train=train, test=test, levels=256,
                   extractor="fashion-cnn" if shape[0] == 1 else "digits-cnn-stacked", params={"stand_in": True})


@functools.cache
def files_present(name: str) -> bool:
    """Whether the dataset loads on this machine (offline: its files are somewhere the loader looks)."""
    try:
        load_dataset(name)
    except GenbenchError:
        return False
    return True


def skip_unless_present(*names: str) -> None:
    """Skip the calling test (or fixture) when a dataset it needs does not load on this machine,
    with the loader's own word on which file is missing and where to get it."""
    for name in dict.fromkeys(names):
        try:
            load_dataset(name)
        except GenbenchError as e:
            pytest.skip(f"{name} not installed: {e}")


def use_stand_in(monkeypatch, name: str) -> Dataset:
    """Make runs and recipe checks load the stand-in of `name` for the rest of the test."""
    fake = stand_in(name)
    monkeypatch.setattr(genbench.runs, "load_dataset", lambda dataset, params=None: fake)
    monkeypatch.setattr(genbench.recipes, "load_dataset", lambda dataset, params=None: fake)
    return fake
