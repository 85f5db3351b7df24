"""Fashion-MNIST (Xiao et al. 2017): 60,000 + 10,000 28x28 grey images of clothing, 10 classes, MIT licence.

The four original IDX files come through the one loader (genbench.data.fetch): $GENBENCH_DATA,
Debian's package `dataset-fashion-mnist` (/usr/share/datasets/fashion-mnist/), the user cache,
then the original URLs. Checksums are of the decompressed files, which are the same whoever
recompressed them.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import torch

from genbench.data import DATASETS, Dataset
from genbench.data.fetch import Resource, fetch
from genbench.errors import GenbenchError

BASE_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
FILES = {
    "train-images": ("train-images-idx3-ubyte.gz", "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
    "train-labels": ("train-labels-idx1-ubyte.gz", "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
    "test-images": ("t10k-images-idx3-ubyte.gz", "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
    "test-labels": ("t10k-labels-idx1-ubyte.gz", "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
}
RESOURCES = {
    key: Resource(name=name, sha256=digest, urls=(BASE_URL + name,), search=(DEBIAN_DIR,), subdir="fashion-mnist",
                  gzipped=True, hint="apt-get install dataset-fashion-mnist")
    for key, (name, digest) in FILES.items()
}


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (LeCun's MNIST format): magic, dimensions, then unsigned bytes."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    if data[:2] != b"\x00\x00" or data[2] != 0x08:
        raise GenbenchError(f"{path} is not an IDX file of unsigned bytes")
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_split(split: str, path: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    images = read_idx(fetch(RESOURCES[f"{split}-images"], path))
    labels = read_idx(fetch(RESOURCES[f"{split}-labels"], path))
    return torch.from_numpy(images.astype(np.float32)).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))


@DATASETS.register("fashion-mnist")
def fashion_mnist(path: str | None = None) -> Dataset:
    """Fashion-MNIST: 60k/10k 28x28 grey images, 10 classes (apt-get install dataset-fashion-mnist)."""
    x_train, y_train = load_split("train", path)
    x_test, y_test = load_split("test", path)
    return Dataset(name="fashion-mnist", kind="image", train=x_train, test=x_test, levels=256,
                   labels={"train": y_train, "test": y_test}, extractor="fashion-cnn",
                   description="Fashion-MNIST, 60,000/10,000 28x28 grey images, 10 classes",
                   params={} if path is None else {"path": path})
