"""Inception Score, FID, KID and precision/recall, computed by torch-fidelity's own metric code
on features from a registered extractor (the dataset's domain classifier by default,
Inception-v3 where its weights exist). Two steps are torch-fidelity's arithmetic done by torch in
float64 instead of numpy: FID's statistics, and KID (its subsets drawn as torch-fidelity draws them,
their kernel sums read from whole kernel matrices where those are cheaper). torch and numpy each
keep a pool of threads the size of the machine; numpy's ran 30x slower beside torch's on a loaded
2-core machine, so the numpy step left (FID's matrix square root) runs on one BLAS thread.

Generated samples are compared with the dataset's *train* split, whose features are cached
(genbench.features.cache); held-out test images scored this way give the "real vs real" floor.
`score --reference` names another set of real images (genbench.references), recorded in the
metric's info.
Column names carry the extractor ("fid@digits-cnn"), so numbers from different extractors never
share a leaderboard column.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm
from torch_fidelity.metric_fid import fid_statistics_to_metric
from torch_fidelity.metric_isc import isc_features_to_metric
from torch_fidelity.metric_prc import prc_features_to_metric

from genbench.data import Dataset
from genbench.errors import GenbenchError
from genbench.features import features_of, load_extractor
from genbench.features.cache import reference_features
from genbench.metrics import Metric, Output, register_metric

MAX_SAMPLES = 10000
MAX_NEIGHBOUR_REFERENCE = 10000  # k-NN metrics use at most this many reference points (fixed subset)
RNG_SEED = 2020  # torch-fidelity's default, for its subset draws

# Every metric squares feature values (distances, covariances; KID cubes inner products), and
# precision/recall and density/coverage compare squared distances in float32, as torch-fidelity
# does. Up to 1e15 a squared distance d (2 max|x|)^2 stays below float32's 3.4e38 for any d under
# 8.5e7, and KID (~max|x|^6 over 10^6 pairs) and FID (~max|x|^4) stay far inside float64. Beyond
# it the numbers overflow (at 1e200 FID's matrix square root fails) and rescaling cannot save
# them (FID grows with the square of the scale, KID's kernel is not scale-free): refused.
MAX_FEATURE = 1e15

# Fewest rows on each side for KID, precision/recall and density/coverage (FID's minimum is its
# own: more rows than dimensions). Below it small-sample effects swamp the value. KID, an unbiased
# MMD^2 (so below zero about half the time when the two sets match), spreads like 1/m: on two
# draws of one 64-d Gaussian its standard deviation is 0.14 at 10 rows, 0.018 at 50. The k-NN
# metrics' balls are few and wide: same-law precision on 12-d Gaussians is 0.87 at 10 rows and
# 0.81 from 50 on; the expected same-law coverage (Naeem et al. 2020) is 0.989 at 10, 0.973 at 50,
# 0.969 in the limit.
MIN_ROWS = 50

# KID keeps whole kernel matrices up to this many entries (128 MiB in float64), subsets' beyond it.
KID_KERNEL_ENTRIES = 2**24


class ImageMetric(Metric):
    """Shared by the feature-based image metrics: pick the extractor, get both feature sets."""

    needs_features = ("features",)

    def __init__(self, extractor: str | None = None, inception_weights: str | None = None,
                 kid_subset_size: int | None = None, isc_splits: int = 10, baselines: str | Path | None = None,
                 reference=None, batch_size: int | None = None, bootstrap: int = 0):
        """`reference`: a genbench.references.Reference to compare with instead of the dataset's train
        split (recorded in `info`); `batch_size`: images per forward pass of the extractor (speed and
        memory only); `bootstrap`: resamples for the standard errors (0: none)."""
        self.extractor, self.inception_weights, self.baselines = extractor, inception_weights, baselines
        self.kid_subset_size, self.isc_splits, self.bootstrap = kid_subset_size, isc_splits, bootstrap
        self.reference, self.batch_size = reference, batch_size

    def applies(self, dataset: Dataset) -> str | None:
        if dataset.kind != "image":
            return f"dataset {dataset.name!r} is not an image dataset"
        if self.extractor is None and dataset.extractor is None:
            return f"dataset {dataset.name!r} has no default feature extractor; pass --extractor"
        return None

    def samples_needed(self, dataset: Dataset) -> int:
        return min(MAX_SAMPLES, len(dataset.train))

    def prepare(self, dataset: Dataset) -> None:
        self.load(dataset)

    def load(self, dataset: Dataset):
        return load_extractor(self.extractor or dataset.extractor, inception_weights=self.inception_weights,
                              baselines=self.baselines)

    def compute(self, samples, reference: Dataset, model=None) -> dict[str, float]:
        return self.measure(samples, reference, model)[0]

    def measure(self, samples, reference: Dataset, model=None) -> tuple[dict, dict]:
        extractor = self.load(reference)
        gen = features_of(samples, extractor, self.batch_size)
        if self.reference is None:
            ref = reference_features(reference, extractor, "train", batch_size=self.batch_size)
        else:
            ref = self.reference.features(extractor, self.batch_size)
        return tuple({f"{k}@{extractor.name}": v for k, v in d.items()} for d in self.measure_features(gen, ref))

    def measure_features(self, gen: dict[str, torch.Tensor], ref: dict[str, torch.Tensor]) -> tuple[dict, dict]:
        """The values on these features, and with `bootstrap` their standard errors over resampled samples."""
        values = self.from_features(gen, ref)
        if not self.bootstrap:
            return values, {}
        return values, bootstrap_stderr(self.from_features, gen, ref, self.bootstrap, self.name)

    def info(self, samples, reference: Dataset, model=None) -> dict[str, str]:
        # Which real images the numbers compare with, where they are not the train split's (the default,
        # which leaderboard columns hold): a FID against test images must not read as the column's.
        out = {} if self.reference is None else {"reference": self.reference.name}
        if self.bootstrap:
            out["bootstrap"] = (f"standard error over {self.bootstrap} resamples of the samples with replacement "
                                f"(numpy RandomState({RNG_SEED})), the reference fixed")
        return out

    def from_features(self, gen: dict[str, torch.Tensor], ref: dict[str, torch.Tensor]) -> dict[str, float]:
        raise NotImplementedError


def bootstrap_stderr(score, gen: dict[str, torch.Tensor], ref: dict[str, torch.Tensor], resamples: int,
                     what: str) -> dict[str, float]:
    """The standard deviation (ddof 1) of `score(gen*, ref)` over `resamples` bootstrap resamples gen* of the
    sample rows (Efron & Tibshirani 1993): the standard error of each value as the samples' draw varies.
    The features are extracted once; only the scoring is repeated. A resample repeats rows, which the k-NN
    metrics (precision, recall, density, coverage) see as zero-distance neighbours, so their spread is an
    approximation; for FID and KID it is the usual one."""
    n = len(next(iter(gen.values())))
    rng = np.random.RandomState(RNG_SEED)
    draws = []
    for _ in tqdm(range(resamples), desc=f"{what} bootstrap", unit="resample", leave=False, disable=None):
        rows = torch.from_numpy(rng.randint(0, n, n))
        draws.append(score({k: v[rows] for k, v in gen.items()}, ref))
    return {k: float(np.std([d[k] for d in draws], ddof=1)) for k in draws[0]}


def check_features(gen: torch.Tensor, ref: torch.Tensor, what: str, min_rows: int = 0) -> None:
    """Refuse features a metric cannot score: mismatched shapes, too few rows, values too large."""
    if gen.ndim != 2 or ref.ndim != 2 or gen.shape[1] != ref.shape[1]:
        raise GenbenchError(f"{what}: feature arrays must be (N, d) with the same d, got {tuple(gen.shape)} "
                            f"and {tuple(ref.shape)}")
    if min(len(gen), len(ref)) < min_rows:
        raise GenbenchError(f"{what}: {len(gen)} samples and {len(ref)} reference rows; it needs at least "
                            f"{min_rows} on each side (fewer give mostly small-sample noise)")
    peak = max((f.abs().max().item() for f in (gen, ref) if f.numel()), default=0.0)
    if peak > MAX_FEATURE:
        raise GenbenchError(f"{what}: feature values reach {peak:.3g}; above {MAX_FEATURE:.0e} their squares "
                            "overflow: rescale the features")


def neighbour_reference(ref: torch.Tensor) -> torch.Tensor:
    if len(ref) <= MAX_NEIGHBOUR_REFERENCE:
        return ref
    g = torch.Generator().manual_seed(RNG_SEED)
    return ref[torch.randperm(len(ref), generator=g)[:MAX_NEIGHBOUR_REFERENCE]]


def fid(gen: torch.Tensor, ref: torch.Tensor) -> float:
    check_features(gen, ref, "fid")
    d = gen.shape[1]
    for name, f in (("samples", gen), ("reference", ref)):
        if len(f) <= d:
            raise GenbenchError(f"fid: {len(f)} {name} for {d}-dimensional features; FID needs more samples than "
                                "feature dimensions (the covariance is singular otherwise)")
    stats = [fid_statistics(f) for f in (gen, ref)]
    with threadpool_limits(1, "blas"):  # its threads would compete with torch's for the cores
        value = fid_statistics_to_metric(*stats, verbose=False)["frechet_inception_distance"]
    # A squared distance is never negative: below 0 is the rounding of the matrix square root's trace
    # (a set against itself gives about -1e-14), not a better score than identical statistics.
    return max(float(value), 0.0)


def fid_statistics(f: torch.Tensor) -> dict[str, np.ndarray]:
    """torch-fidelity's FID statistics (mean, unbiased covariance) in float64, computed by torch."""
    f = f.double()
    return {"mu": f.mean(0).numpy(), "sigma": torch.cov(f.T).numpy()}


def poly_kernel(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """torch-fidelity's KID kernel (x.y / d + 1)^3."""
    return ((x @ y.T) * (1.0 / x.shape[1]) + 1).pow(3)


def block_sums(k: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """Each subset's sum of k[rows_s][:, cols_s], from 0/1 indicator rows (subsets, n): a product, not a gather."""
    return ((rows @ k) * cols).sum(1)


def kid(gen: torch.Tensor, ref: torch.Tensor, subset_size: int | None = None, subsets: int = 100) -> float:
    """torch-fidelity's KID in float64: the mean over `subsets` random subsets of each side, drawn as
    it draws them (RandomState(RNG_SEED), samples then reference), of the unbiased MMD^2 estimate
    (Kt_xx + Kt_yy) / (m (m-1)) - 2 K_xy / m^2 (Kt: the kernel sum without its diagonal).

    Only those three sums are needed, not the subsets' kernel matrices. Where the sets are small
    (digits), each whole kernel matrix is computed once and every subset's sums come from it (a
    product with the subsets' indicators): 3 kernel products instead of 300.
    """
    check_features(gen, ref, "kid", MIN_ROWS)
    n1, n2 = len(gen), len(ref)
    n = min(n1, n2)
    if subset_size is None:
        subset_size = min(1000, n)
    if subset_size > n:
        raise GenbenchError(f"kid: subset size {subset_size} is larger than the sample count ({len(gen)} samples, "
                            f"{len(ref)} reference); use --kid-subset-size {n} or fewer")
    if subset_size < MIN_ROWS:
        raise GenbenchError(f"kid: subsets of {subset_size} samples; it needs at least {MIN_ROWS}")
    m, d = subset_size, gen.shape[1]
    rng = np.random.RandomState(RNG_SEED)
    draws = [(rng.choice(n1, m, replace=False), rng.choice(n2, m, replace=False)) for _ in range(subsets)]
    x, y = gen.double(), ref.double()
    whole = n1 * n1 + n2 * n2 + n1 * n2  # entries of the whole kernel matrices, and multiply-adds per subset
    if whole <= KID_KERNEL_ENTRIES and whole * (d + subsets) <= 3 * subsets * m * m * d:
        a, b = torch.zeros(subsets, n1, dtype=torch.float64), torch.zeros(subsets, n2, dtype=torch.float64)
        for s, (i, j) in enumerate(draws):
            a[s, i], b[s, j] = 1, 1
        kxx, kyy = poly_kernel(x, x), poly_kernel(y, y)
        xx = block_sums(kxx, a, a) - a @ kxx.diagonal()
        yy = block_sums(kyy, b, b) - b @ kyy.diagonal()
        xy = block_sums(poly_kernel(x, y), a, b)
    else:
        sums = []
        for i, j in draws:
            u, v = x[torch.from_numpy(i)], y[torch.from_numpy(j)]
            kuu, kvv = poly_kernel(u, u), poly_kernel(v, v)
            sums.append((kuu.sum() - kuu.trace(), kvv.sum() - kvv.trace(), poly_kernel(u, v).sum()))
        xx, yy, xy = torch.tensor(sums, dtype=torch.float64).T
    mmd = (xx + yy) / (m * (m - 1)) - 2 * xy / (m * m)
    return mmd.mean().item()


def inception_score(logits: torch.Tensor, splits: int = 10) -> float:
    if len(logits) < splits:
        raise GenbenchError(f"is: {len(logits)} samples cannot be split {splits} ways")
    return isc_features_to_metric(logits, splits=splits, shuffle=True, rng_seed=RNG_SEED)["inception_score_mean"]


def precision_recall(gen: torch.Tensor, ref: torch.Tensor, k: int = 3) -> tuple[float, float]:
    check_features(gen, ref, "prc", max(MIN_ROWS, k + 1))
    out = prc_features_to_metric(gen.float(), neighbour_reference(ref).float(), prc_neighborhood=k,
                                 prc_batch_size=10000, save_cpu_ram=True, verbose=False)
    return out["precision"], out["recall"]


@register_metric
class InceptionScore(ImageMetric):
    name = "is"
    needs_features = ("logits",)

    def __init__(self, extractor: str | None = None, inception_weights: str | None = None,
                 kid_subset_size: int | None = None, isc_splits: int = 10, baselines: str | Path | None = None,
                 batch_size: int | None = None):
        # No `reference`: the score reads the samples' class predictions alone, so --reference is refused for it.
        super().__init__(extractor, inception_weights, kid_subset_size, isc_splits, baselines, batch_size=batch_size)

    outputs = (Output("is", "higher", "Inception Score exp(E KL(p(y|x) || p(y))) of the samples, 10 splits", 0.0, 0.02, unit="exp(nats): effective number of classes, 1 to the class count"),)

    def from_features(self, gen, ref):
        if "logits" not in gen:
            raise GenbenchError("is: needs class logits, which user-supplied features do not have")
        return {"is": inception_score(gen["logits"], self.isc_splits)}


@register_metric
class FrechetDistance(ImageMetric):
    name = "fid"
    outputs = (Output("fid", "lower", "Fréchet distance between sample and train-split features", 0.0, 0.05, unit="squared distance in the extractor's feature units"),)

    def from_features(self, gen, ref):
        return {"fid": fid(gen["features"], ref["features"])}


@register_metric
class KernelDistance(ImageMetric):
    name = "kid"
    outputs = (Output("kid", "lower", "kernel (MMD², cubic polynomial) distance, mean over 100 subsets", 0.002, 0.1, unit="MMD² of the extractor's features under the cubic kernel", scale=1, scale_note="as computed, not ×10³ as many papers print KID"),)

    def from_features(self, gen, ref):
        return {"kid": kid(gen["features"], ref["features"], self.kid_subset_size)}


@register_metric
class PrecisionRecall(ImageMetric):
    name = "prc"
    outputs = (
        Output("precision", "higher", "fraction of samples inside the real data's 3-NN balls (Kynkäänniemi 2019)", 0.02, unit="fraction of samples, 0-1"),
        Output("recall", "higher", "fraction of real data inside the samples' 3-NN balls", 0.02, unit="fraction of real points, 0-1"),
    )

    def from_features(self, gen, ref):
        p, r = precision_recall(gen["features"], ref["features"])
        return {"precision": p, "recall": r}
