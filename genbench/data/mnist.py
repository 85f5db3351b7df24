"""MNIST (LeCun et al., 1998) and CIFAR-10 (Krizhevsky, 2009) for the `gpu` recipes.

Neither can be had offline on the project's CI machines, so they come only through the one loader
(genbench.data.fetch: $GENBENCH_DATA, the cache, then the original files, SHA-256 checked) and an
offline error says what to download. CIFAR-10 is read from its *binary* archive (label byte +
3072 pixel bytes per record), never from the pickled Python version.
"""

from __future__ import annotations

import tarfile

import numpy as np
import torch

from genbench.data import DATASETS, Dataset
from genbench.data.fashion_mnist import read_idx
from genbench.data.fetch import Resource, fetch
from genbench.errors import GenbenchError

MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/")
MNIST_FILES = {
    "train-images": ("train-images-idx3-ubyte.gz", "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
    "train-labels": ("train-labels-idx1-ubyte.gz", "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
    "test-images": ("t10k-images-idx3-ubyte.gz", "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
    "test-labels": ("t10k-labels-idx1-ubyte.gz", "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
}
MNIST = {key: Resource(name=name, sha256=digest, urls=tuple(m + name for m in MNIST_MIRRORS), subdir="mnist")
         for key, (name, digest) in MNIST_FILES.items()}
CIFAR10 = Resource(name="cifar-10-binary.tar.gz",
                   sha256="c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
                   urls=("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",), subdir="cifar10")


@DATASETS.register("mnist")
def mnist(path: str | None = None) -> Dataset:
    """MNIST: 60k/10k 28x28 grey digits (downloaded once, SHA-256 checked; not available offline)."""
    def split(name):
        x = read_idx(fetch(MNIST[f"{name}-images"], path))
        y = read_idx(fetch(MNIST[f"{name}-labels"], path))
        return torch.from_numpy(x.astype(np.float32)).unsqueeze(1), torch.from_numpy(y.astype(np.int64))

    (x_train, y_train), (x_test, y_test) = split("train"), split("test")
    return Dataset(name="mnist", kind="image", train=x_train, test=x_test, levels=256,
                   labels={"train": y_train, "test": y_test}, extractor="inception-v3-compat",
                   description="MNIST, 60,000/10,000 28x28 grey digits", params={} if path is None else {"path": path})


def read_cifar_binary(data: bytes, what: str) -> tuple[torch.Tensor, torch.Tensor]:
    record = 1 + 3 * 32 * 32
    if len(data) % record:
        raise GenbenchError(f"{what} is not a CIFAR-10 binary batch ({len(data)} bytes)")
    rows = np.frombuffer(data, dtype=np.uint8).reshape(-1, record)
    return (torch.from_numpy(rows[:, 1:].reshape(-1, 3, 32, 32).astype(np.float32)),
            torch.from_numpy(rows[:, 0].astype(np.int64)))


@DATASETS.register("cifar10")
def cifar10(path: str | None = None) -> Dataset:
    """CIFAR-10: 50k/10k 32x32 colour images (downloaded once, SHA-256 checked; not available offline)."""
    archive = fetch(CIFAR10, path)
    parts: dict[str, bytes] = {}
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.endswith(".bin"):
                parts[member.name.rsplit("/", 1)[-1]] = tar.extractfile(member).read()
    train = [read_cifar_binary(parts[f"data_batch_{i}.bin"], f"data_batch_{i}.bin") for i in range(1, 6)]
    x_test, y_test = read_cifar_binary(parts["test_batch.bin"], "test_batch.bin")
    return Dataset(name="cifar10", kind="image", train=torch.cat([t[0] for t in train]), test=x_test, levels=256,
                   labels={"train": torch.cat([t[1] for t in train]), "test": y_test},
                   extractor="inception-v3-compat", description="CIFAR-10, 50,000/10,000 32x32 colour images, 10 classes",
                   params={} if path is None else {"path": path})
