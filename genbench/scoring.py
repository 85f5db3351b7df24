"""Scoring: pick the metrics that apply, draw samples once, compute every metric on them."""

from __future__ import annotations

import time

import torch
from tqdm.auto import tqdm

from genbench.data import Dataset
from genbench.drawing import CHECKPOINT_CHUNK
from genbench.env import available_memory
from genbench.errors import GenbenchError
from genbench.metrics import METRICS, Metric, build_metric, options_taken

SAMPLE_COPIES = 2  # drawn samples are held twice at once: the chunks and their concatenation (float32)


def _size(n: float) -> str:
    units = ("bytes", "KB", "MB", "GB", "TB", "PB")
    i = 0
    while n >= 1000 and i < len(units) - 1:
        n, i = n / 1000, i + 1
    return f"{n:.3g} {units[i]}"


def check_sample_memory(dataset: Dataset, n: int, what: str) -> None:
    """Refuse to draw `n` samples of `dataset` that cannot fit in this machine's memory, before any work
    (a count that cannot fit would otherwise run until the machine kills it)."""
    need = n * dataset.dim * 4 * SAMPLE_COPIES
    have = available_memory()
    if have is not None and need > have:
        raise GenbenchError(f"{what} {n}: that many samples of {dataset.name!r} (shape {dataset.shape}) need about "
                            f"{_size(need)} of memory, more than the {_size(have)} available; ask for fewer")


def select_metrics(dataset: Dataset, names: list[str] | None, has_model: bool, has_log_prob: bool,
                   options: dict | None = None) -> list[Metric]:
    """The metrics to run, prepared: those asked for (each must apply), or all that apply."""
    def reason(metric: Metric) -> str | None:
        if metric.needs_log_prob and not has_log_prob:
            return ("it needs a model with an exact log_prob; score a --checkpoint of such a model"
                    if not has_model else "this model family has no exact log_prob")
        return metric.applies(dataset)

    if names is None:
        chosen = [build_metric(n, options) for n in METRICS]
        chosen = [m for m in chosen if reason(m) is None]
        if not chosen:
            raise GenbenchError(f"no registered metric applies to dataset {dataset.name!r} with this input")
    else:
        chosen = []
        for n in names:
            metric = build_metric(n, options)
            why = reason(metric)
            if why is not None:
                raise GenbenchError(f"metric {n!r} does not apply: {why}")
            chosen.append(metric)
    check_options_taken(chosen, options)
    for metric in chosen:
        metric.prepare(dataset)
    return chosen


CONTEXT_OPTIONS = {"baselines"}  # where weights are found, for whichever metric needs them: not a metric's option


def check_options_taken(chosen: list[Metric], options: dict | None) -> None:
    """Refuse an option that none of the chosen metrics takes (build_metric would drop it silently, so
    `--kid-subset-size` on a likelihood would read as applied)."""
    for key, value in (options or {}).items():
        if value is None or key in CONTEXT_OPTIONS:
            continue
        if not any(key in options_taken(m.name) for m in chosen):
            names = ", ".join(m.name for m in chosen)
            raise GenbenchError(f"--{key.replace('_', '-')} is taken by none of the metrics scored ({names}); drop it "
                                "or choose a metric that takes it")


@torch.no_grad()
def draw_samples(model, n: int, generator: torch.Generator, progress: bool = True, **options) -> torch.Tensor:
    """n samples in chunks; `options` go to the model's sampler (e.g. a text model's temperature)."""
    chunks, left = [], n
    with tqdm(total=n, desc="sampling", unit="sample", disable=not progress or None, leave=False) as bar:
        while left > 0:
            k = min(left, CHECKPOINT_CHUNK)
            chunks.append(model.sample(k, generator, **options).float().cpu())
            left -= k
            bar.update(k)
    return torch.cat(chunks)


def enough_samples(samples: torch.Tensor, dataset: Dataset, chosen: list[Metric], n_samples: int | None):
    """Given samples, the first `n_samples` of them; without `n_samples`, as many as every
    count-sensitive metric's protocol scores, or a refusal that names the count and the way out."""
    if n_samples is not None:
        if n_samples > len(samples):
            raise GenbenchError(f"--n-samples {n_samples} asks for more than the {len(samples)} samples given")
        return samples[:n_samples]
    for m in chosen:
        need = m.samples_needed(dataset)
        if m.count_sensitive and len(samples) < need:
            raise GenbenchError(f"{m.name}: {len(samples)} samples, but its protocol scores {need} and the value "
                                f"grows with the count, so it would not compare; pass --n-samples {len(samples)} "
                                "to score fewer on purpose")
    return samples


def evaluate(dataset: Dataset, metrics: list[str] | None = None, model=None, samples: torch.Tensor | None = None,
             n_samples: int | None = None, generator: torch.Generator | None = None,
             progress: bool = True, options: dict | None = None, keep_samples: bool = False) -> dict:
    """Compute metrics; returns {"metrics": {output: value}, "info": {metric: {...}}, "n_samples": n, ...}.

    `n_samples` is how many samples are scored: drawn from `model` with `generator` (the run's or the
    user's scoring stream: genbench.seeds), or the first of `samples`.
    `options` reach the metrics that take them (extractor, inception_weights, kid_subset_size, baselines).
    `keep_samples`: also return the samples as scored (None where no metric scores samples), for
    --save-samples; they are kept out of the result otherwise, which is written into run records.
    """
    start = time.perf_counter()
    chosen = select_metrics(dataset, metrics, model is not None, model is not None and model.has_log_prob, options)
    wanted = protocol_count(dataset, chosen)
    if samples is not None:
        samples = enough_samples(samples, dataset, chosen, n_samples)
    if model is not None and generator is None:  # no default seed here: the caller's scoring stream decides
        raise TypeError("evaluate() scores a model on a scoring stream: pass its generator")
    broken = ""
    if samples is None and model is not None and wanted > 0:
        samples = draw_samples(model, n_samples or wanted, generator, progress)
        if bad := int((~torch.isfinite(samples.flatten(1))).any(1).sum()):
            # Dropping or repairing those samples would flatter the model: its sample metrics go
            # unscored, with the reason, and its likelihood metrics are still computed.
            broken = (f"the model's sampler returned {bad} of {len(samples)} samples with NaN or infinite values "
                      "(its arithmetic overflowed)")
        if dataset.kind == "image":
            samples = samples.clamp(0, 1)  # images live in [0,1]; a density's tails do not
    values: dict[str, float] = {}
    info: dict[str, dict[str, str]] = {}
    unscored: dict[str, str] = {}
    stderr: dict[str, float] = {}  # output -> standard error, where a metric estimates one (--bootstrap)
    for metric in tqdm(chosen, desc="scoring", unit="metric", disable=not progress or None, leave=False):
        if broken and metric.samples_needed(dataset) > 0:
            unscored[metric.name] = broken
            continue
        measured, errors = metric.measure(samples, dataset, model,
                                          **({"generator": generator} if metric.uses_generator else {}))
        values.update(measured)
        stderr.update(errors)
        if extra := metric.info(samples, dataset, model):
            info[metric.name] = extra
    if not values:
        raise GenbenchError(f"{broken}, so none of the metrics asked for could be computed")
    kept = {"samples": samples} if keep_samples else {}
    return {
        **kept,
        **({"stderr": stderr} if stderr else {}),
        "metrics": values,
        "info": info,
        "unscored": unscored,  # metric -> why it has no value
        "metric_names": [m.name for m in chosen],
        "n_samples": 0 if samples is None else int(len(samples)),
        "wall_time_s": time.perf_counter() - start,
    }


def samples_wanted(dataset: Dataset, metrics: list[str] | None, options: dict | None = None) -> int:
    """How many samples the metrics asked for (default: all that score samples) draw by their protocols,
    for a sampler that is not a genbench model (it has no log_prob)."""
    return protocol_count(dataset, select_metrics(dataset, metrics, False, False, options))


def protocol_count(dataset: Dataset, chosen: list[Metric]) -> int:
    """How many samples to draw when no count is given, for every source: as many as the chosen metrics'
    protocols score (the largest), 0 when none scores samples."""
    return max((m.samples_needed(dataset) for m in chosen), default=0)
