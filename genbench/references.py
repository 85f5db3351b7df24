"""The real images that image metrics (FID, KID, IS's neighbours aside, precision/recall,
density/coverage) compare samples with: by default the scored dataset's train split, or one given
by `score --reference REF`, torch-fidelity's `--input2`:

- `DATASET-SPLIT`, a registered image dataset's split by name (`digits-test`, `fashion-mnist-train`);
  the scored dataset's own splits come with its parameters (a checkpoint's recorded ones), another
  dataset is loaded with its defaults and must have the same image shape;
- a folder of PNG/JPEG files, read with pillow, converted to the dataset's channels (grey or RGB)
  and to [0, 1]; their size must be the dataset's;
- an .npy/.npz array of real images, in any layout and range `--samples` accepts.

A reference other than the default is recorded with the numbers (the result's "reference" and each
image metric's info), since a FID against test images or a folder is not the FID of a leaderboard's
column (runs always score against the train split).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from genbench.data import DATASETS, Dataset, load_dataset
from genbench.errors import GenbenchError
from genbench.features import Extractor, features_of
from genbench.features.cache import reference_features
from genbench.registry import unknown_name_message

SPLITS = ("train", "test")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
ARRAY_SUFFIXES = (".npy", ".npz")
DEFAULT_SPLIT = "train"


@dataclass(frozen=True, eq=False)
class Reference:
    """A set of real images for the image metrics. `name`: what the result records ("digits-test",
    or the path given); either a dataset split (features cached on disk) or images in [0, 1]."""

    name: str
    dataset: Dataset | None = None
    split: str | None = None
    images: torch.Tensor | None = None

    def features(self, extractor: Extractor, batch_size: int | None = None) -> dict[str, torch.Tensor]:
        if self.dataset is not None:
            return reference_features(self.dataset, extractor, self.split, batch_size=batch_size)
        return features_of(self.images, extractor, batch_size)

    def __len__(self) -> int:
        return len(self.images if self.images is not None else {"train": self.dataset.train,
                                                                 "test": self.dataset.test}[self.split])


def default_name(data: Dataset) -> str:
    return f"{data.name}-{DEFAULT_SPLIT}"


def resolve_reference(ref: str | Path, data: Dataset, load_array) -> Reference:
    """The reference `ref` names for samples of image dataset `data`, loaded and checked (shape,
    channels, range) before anything is scored. `load_array(path)`: an .npy/.npz file as an array
    (genbench.api's reader, which never unpickles)."""
    if data.kind != "image":
        raise GenbenchError(f"--reference is for image metrics, and dataset {data.name!r} is not an image dataset")
    path = Path(ref)
    if path.is_dir():
        return Reference(str(ref), images=image_folder(path, data))
    if path.suffix.lower() in ARRAY_SUFFIXES or path.exists() or "/" in str(ref) or "\\" in str(ref):
        if not path.exists():
            raise GenbenchError(f"--reference {ref}: no such file or folder")
        if path.suffix.lower() not in ARRAY_SUFFIXES:
            raise GenbenchError(f"--reference {ref} must be a folder of PNG/JPEG images, an .npy/.npz array of "
                                "images or a dataset split such as digits-test")
        from genbench.data import check_samples

        x = check_samples(load_array(path), data, what=f"reference images in {ref}")
        return Reference(str(ref), images=x)
    return dataset_split(str(ref), data)


def dataset_split(ref: str, data: Dataset) -> Reference:
    """`DATASET-SPLIT` against the dataset registry: the scored dataset's own split, or another image
    dataset's (default parameters) of the same shape."""
    name, _, split = ref.rpartition("-")
    if split not in SPLITS or name not in DATASETS:
        valid = [f"{d}-{s}" for d in DATASETS.names() for s in SPLITS]
        raise GenbenchError(unknown_name_message("reference", ref, valid)
                            + "; or give a folder of PNG/JPEG images or an .npy/.npz file")
    other = data if name == data.name else load_dataset(name)
    if other.kind != "image":
        raise GenbenchError(f"--reference {ref}: dataset {name!r} is not an image dataset")
    if other.shape != data.shape:
        raise GenbenchError(f"--reference {ref} has images of shape {other.shape}; dataset {data.name!r}'s samples "
                            f"have shape {data.shape}")
    return Reference(ref, dataset=other, split=split)


def image_folder(path: Path, data: Dataset) -> torch.Tensor:
    """A folder of PNG/JPEG files as (N, C, H, W) float in [0, 1], with `data`'s channels (pillow
    converts each file to grey or RGB); every image must be `data`'s size."""
    from PIL import Image, UnidentifiedImageError

    channels, height, width = data.shape
    if channels not in (1, 3):
        raise GenbenchError(f"--reference {path}: dataset {data.name!r} has {channels} channels; image files give "
                            "1 (grey) or 3 (RGB)")
    files = sorted(p for p in path.iterdir() if not p.name.startswith("."))
    if not files:
        raise GenbenchError(f"--reference folder {path} is empty")
    arrays = []
    for f in files:
        if not f.is_file() or f.suffix.lower() not in IMAGE_SUFFIXES:
            raise GenbenchError(f"--reference folder {path} holds {f.name}, which is not a PNG or JPEG file")
        try:
            with Image.open(f) as im:
                im.load()
                a = np.asarray(im.convert("L" if channels == 1 else "RGB"))
        except (UnidentifiedImageError, OSError, SyntaxError) as e:
            raise GenbenchError(f"{f} is not a readable PNG or JPEG image ({e})") from None
        if a.shape[:2] != (height, width):
            raise GenbenchError(f"--reference image {f} is {a.shape[1]}x{a.shape[0]} pixels; dataset "
                                f"{data.name!r} has {width}x{height} images")
        arrays.append(a)
    x = np.stack(arrays)
    x = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)
    return torch.from_numpy(x.astype(np.float32) / 255.0)
