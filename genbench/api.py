"""The Python API. Each function is one CLI command, with keyword arguments named as its flags
(`genbench score --n-samples 100` is `genbench.score(n_samples=100)`)."""

from __future__ import annotations

import inspect
import math
import os
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch

from genbench import keywords, seeds
from genbench.errors import GenbenchError
from genbench.io import atomic_write_npy, is_stdout, output_file, output_folder, write_output_json
from genbench.registry import select_by_glob, unknown_name_message

SAMPLE_SUFFIXES = (".npy", ".npz")


def train(recipe: str, seed: int | None = None, device: str | None = None, runs: str = "runs",
          baselines: str | None = None, quiet: bool = False, threads: int | None = None) -> dict | None:
    """Train one recipe with one seed (default: its first); writes checkpoint and run record.
    Started by torchrun with several processes, the run is data-parallel and rank 0 alone writes
    and returns the record (the other ranks return None). `threads`: torch threads for the run
    (default: torch's, one per core), e.g. to reproduce a run of `bench --jobs N`."""
    from genbench import distributed
    from genbench.bench import check_threads
    from genbench.env import resolve_device, torch_threads
    from genbench.recipes import load_recipe
    from genbench.runs import check_replaceable, run_dir, run_recipe

    keywords.path("recipe", recipe, optional=False)
    keywords.path("runs", runs, optional=False)
    keywords.path("baselines", baselines)
    keywords.boolean("quiet", quiet)
    if seed is not None:
        seeds.check(seed, "--seed")
    check_threads(threads)
    r = load_recipe(recipe, baselines)
    seed = r.seeds[0] if seed is None else seed
    output_folder(run_dir(runs, r, seed), "--runs")
    check_replaceable(runs, r, seed)
    distributed.init(resolve_device(device or r.device))
    try:
        with torch_threads(threads):
            record = run_recipe(r, seed, runs=runs, device=device, progress=not quiet)
    finally:
        distributed.finish()
    if record is not None:
        record["run_dir"] = str(run_dir(runs, r, seed))
    return record


def load_png_folder(path: Path) -> np.ndarray:
    """A folder of PNG images as one uint8 array (N, H, W) or (N, H, W, 3) -> (N, 3, H, W)."""
    from PIL import Image, UnidentifiedImageError

    files = sorted(p for p in path.iterdir() if not p.name.startswith("."))
    if not files:
        raise GenbenchError(f"samples folder {path} is empty")
    arrays = []
    for f in files:
        if not f.is_file() or f.suffix.lower() != ".png":
            raise GenbenchError(f"samples folder {path} holds {f.name}, which is not a .png file")
        try:
            with Image.open(f) as im:
                im.load()
                grey = im.mode in ("1", "L", "LA", "I", "I;16")
                arrays.append(np.asarray(im.convert("L" if grey else "RGB")))
        except (UnidentifiedImageError, OSError, SyntaxError) as e:
            raise GenbenchError(f"{f} is not a readable PNG image ({e})") from None
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise GenbenchError(f"images in {path} differ in size/mode: {sorted(shapes)[:3]}")
    x = np.stack(arrays)
    return x if x.ndim == 3 else x.transpose(0, 3, 1, 2)


def load_samples(path: str | Path, what: str = "samples file", name: str = "samples") -> np.ndarray:
    """An array from .npy/.npz (never unpickled), or a folder of PNG images.

    A .npz gives its array called `name`, or its only array; every member must be a .npy array.
    """
    from genbench.paths import not_a_file

    path = Path(path)
    if path.is_dir():
        return load_png_folder(path)
    if why := not_a_file(path):
        raise GenbenchError(f"{what} {path} {why}")
    if path.suffix not in SAMPLE_SUFFIXES:
        raise GenbenchError(f"{what} {path} must be one of {', '.join(SAMPLE_SUFFIXES)}")
    try:
        if path.suffix == ".npy":
            check_npy_size(path, what)
        data = np.load(path, allow_pickle=False)
        if isinstance(data, np.lib.npyio.NpzFile):
            with data:
                data = npz_member(data, f"{what} {path}", name)
    # A damaged or hostile file fails inside numpy or zipfile/zlib; with allow_pickle=False an
    # object array stops at its header, before any pickle runs.
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        raise GenbenchError(f"{what} {path} cannot be read as {path.suffix} ({e})") from None
    except MemoryError as e:  # an .npz member whose header claims more than memory holds
        raise GenbenchError(f"{what} {path} holds an array too large for memory ({e})") from None
    if data.dtype.kind not in "fiub":
        raise GenbenchError(f"{what} {path} holds dtype {data.dtype}; expected numbers")
    return data


def check_npy_size(path: Path, what: str) -> None:
    """Refuse an .npy whose header claims more data than the file holds, before numpy allocates it
    (a header of shape (10**12, 2) in a file of a few bytes would ask for 8 TB)."""
    with path.open("rb") as f:
        read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                       (2, 0): np.lib.format.read_array_header_2_0}.get(np.lib.format.read_magic(f))
        if read_header is None:
            return  # a newer format: numpy reads it (a MemoryError is still caught)
        shape, _, dtype = read_header(f)
        claimed = math.prod(shape) * dtype.itemsize
        held = path.stat().st_size - f.tell()
    if dtype.hasobject:
        return  # numpy refuses it (allow_pickle=False), saying why
    if claimed > held:
        raise GenbenchError(f"{what} {path} is truncated: its header claims shape {shape} of {dtype} "
                            f"({claimed} bytes), but the file holds {held} bytes of data")


def npz_member(npz: np.lib.npyio.NpzFile, where: str, name: str) -> np.ndarray:
    """The member `name` of an open .npz, or its only member. numpy hands back a member's raw bytes
    where they do not start with the .npy magic, whatever the member is called, so both the name
    and what numpy returned are checked."""
    for member in npz.zip.namelist():
        if not member.endswith(".npy"):
            raise GenbenchError(f"{where} holds {member}, which is not a .npy array")
    names = list(npz.files)
    if not names:
        raise GenbenchError(f"{where} holds no arrays")
    if len(names) > 1 and name not in names:
        raise GenbenchError(f"{where} holds several arrays ({', '.join(names)}); name one {name!r}")
    chosen = name if name in names else names[0]
    array = npz[chosen]
    if not isinstance(array, np.ndarray):
        raise GenbenchError(f"{where} holds {chosen}.npy, which is not a .npy array (no .npy header)")
    return array


def load_features(path: str | Path, what: str) -> torch.Tensor:
    """(N, d) feature array from .npy/.npz ('features' or the only array), checked."""
    if Path(path).suffix not in SAMPLE_SUFFIXES:
        raise GenbenchError(f"{what} {path} must be a .npy or .npz file")
    x = torch.as_tensor(np.asarray(load_samples(path, what, "features")))
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise GenbenchError(f"{what} {path} has shape {tuple(x.shape)}; expected (N, d) with N, d > 0")
    x = x.double()
    if not torch.isfinite(x).all():
        raise GenbenchError(f"{what} {path} contains NaN or inf")
    return x


FEATURE_METRICS = ("fid", "kid", "prc", "density-coverage")


def score_features(features: str, reference_features: str, metrics: list[str] | None, options: dict) -> dict:
    """Image metrics on feature arrays extracted elsewhere (e.g. CLIP): columns '<metric>@features'."""
    from genbench.metrics import build_metric
    from genbench.metrics.fidelity import ImageMetric

    gen, ref = load_features(features, "--features"), load_features(reference_features, "--reference-features")
    if gen.shape[1] != ref.shape[1]:
        raise GenbenchError(f"--features have {gen.shape[1]} dimensions, --reference-features {ref.shape[1]}")
    values, stderr, info = {}, {}, {}
    for name in metrics or FEATURE_METRICS:
        metric = build_metric(name, options)
        if not isinstance(metric, ImageMetric) or "features" not in metric.needs_features:
            raise GenbenchError(f"metric {name!r} cannot be computed from features alone; "
                                f"choose from {', '.join(FEATURE_METRICS)}")
        measured, errors = metric.measure_features({"features": gen}, {"features": ref})
        values.update({f"{k}@features": v for k, v in measured.items()})
        stderr.update({f"{k}@features": v for k, v in errors.items()})
        if extra := metric.info(None, None):
            info[name] = extra
    return {"metrics": values, **({"stderr": stderr} if stderr else {}), "metric_names": list(metrics or FEATURE_METRICS),
            "info": info, "dataset": None,
            "n_samples": len(gen),
            "reference_samples": len(ref), "features_file": str(features),
            "reference_features_file": str(reference_features)}


def score_text(text: str, refs: str | list[str] | None, json: str | None = None,
               sacrebleu: list[str] | dict | None = None, compare: str | None = None) -> dict:
    """Corpus BLEU, chrF and TER (sacrebleu, with `sacrebleu` options as on its command line) of system
    outputs against one or more reference files, one segment per line, with sentence scores; `compare`:
    a baseline system's outputs, tested against by paired bootstrap resampling."""
    from genbench import env
    from genbench.metrics.translation import CorpusTranslation

    refs = [refs] if isinstance(refs, str | Path) else list(refs or [])
    start = time.perf_counter()
    result = CorpusTranslation.score_files(text, refs, sacrebleu, compare)
    out = {"metrics": result["metrics"], "metric_names": [CorpusTranslation.name],
           "info": {CorpusTranslation.name: result["signatures"]}, "n_samples": result["segments"], "dataset": None,
           "text": str(text), "refs": [str(r) for r in refs], "sentences": result["sentences"],
           "sacrebleu": result["sacrebleu"]}
    if "confidence" in result:  # --sacrebleu confidence: each score's bootstrap mean and 95% half-width
        out["confidence"] = result["confidence"]
    if compare is not None:
        out.update({"compare": str(compare), "paired_bootstrap": result["paired_bootstrap"]})
    out.update({"versions": env.versions(), "wall_time_s": time.perf_counter() - start})
    if json is not None:
        write_output_json(json, out)
    return out


def check_inception_weights(inception_weights: str | None, extractor: str | None) -> None:
    """--inception-weights is refused, not ignored, where no Inception extractor runs."""
    if inception_weights is None:
        return
    from genbench.features.inception import NAME

    if extractor != NAME:
        used = f"features come from {extractor!r}" if extractor else "no feature extractor is used here"
        raise GenbenchError(f"--inception-weights is for the {NAME} extractor, but {used}: "
                            f"pass --extractor {NAME} or drop --inception-weights")


def score_hf(hf_model: str, dataset: str | None, metrics: list[str] | None, hf_stride: int | None, device: str,
             json: str | None) -> dict:
    """Bits per character and per byte of a text dataset's held-out text under a Hugging Face causal LM."""
    from genbench import env
    from genbench.data import load_dataset
    from genbench.data.text import not_text
    from genbench.hf import library_versions, score_hf_model
    from genbench.metrics.bits_per_byte import BitsPerByte

    if dataset is None:
        raise GenbenchError("--hf-model needs --dataset NAME (a text dataset, e.g. shakespeare-char)")
    if metrics is not None and metrics != [BitsPerByte.name]:
        raise GenbenchError(f"--hf-model is scored by {BitsPerByte.name!r} alone; drop --metrics")
    data = load_dataset(dataset)
    if why := not_text(data):
        raise GenbenchError(f"--hf-model scores a text dataset's held-out text, and {why}")
    dev = env.resolve_device(device)
    start = time.perf_counter()
    values, info = score_hf_model(hf_model, data, hf_stride, dev)
    out = {"metrics": values, "metric_names": [BitsPerByte.name], "info": {BitsPerByte.name: info},
           "dataset": data.name, "hf_model": str(hf_model), "versions": {**env.versions(), **library_versions()},
           "device": dev.type,
           "wall_time_s": time.perf_counter() - start}
    if json is not None:
        write_output_json(json, out)
    return out


def score_given_text(text: str, refs, json, sacrebleu, compare, dataset, metrics, inception_weights,
                     bootstrap) -> dict:
    """--text: system outputs against --refs."""
    if dataset is not None or metrics is not None:
        raise GenbenchError("--text is scored against --refs with corpus BLEU, chrF and TER; "
                            "drop --dataset/--metrics")
    if bootstrap is not None:
        raise GenbenchError("--bootstrap resamples image samples; for --text, sacrebleu's own interval is "
                            "--sacrebleu confidence (and confidence-n=N)")
    check_inception_weights(inception_weights, None)
    return score_text(text, refs, json, sacrebleu, compare)


def score_given_hf_model(hf_model: str, dataset, metrics, hf_stride, device, json, n_samples, extractor,
                         kid_subset_size, inception_weights, bootstrap) -> dict:
    """--hf-model: a causal LM folder, on a text dataset's held-out text."""
    check_inception_weights(inception_weights, None)
    for flag, value in (("--n-samples", n_samples), ("--extractor", extractor), ("--kid-subset-size", kid_subset_size),
                        ("--bootstrap", bootstrap)):
        if value is not None:
            raise GenbenchError(f"{flag} does not apply to --hf-model (it is scored on held-out text); drop it")
    return score_hf(hf_model, dataset, metrics, hf_stride, device, json)


def metric_options(extractor, inception_weights, kid_subset_size, baselines, batch_size=None, bootstrap=None) -> dict:
    """The options of the metrics on samples or features, checked before anything loads."""
    if bootstrap is not None and bootstrap < 2:
        raise GenbenchError(f"--bootstrap must be at least 2 resamples (a standard error needs two), got {bootstrap}")
    if kid_subset_size is not None:
        from genbench.metrics.fidelity import MIN_ROWS

        if kid_subset_size < MIN_ROWS:
            raise GenbenchError(f"--kid-subset-size must be at least {MIN_ROWS}, got {kid_subset_size}")
    if extractor is not None:
        from genbench.features import EXTRACTORS

        EXTRACTORS.get(extractor)
    if baselines is not None:
        from genbench.paths import baselines_dir

        baselines_dir(baselines)  # refuse a folder that does not exist, whatever is scored
    return {"extractor": extractor, "inception_weights": inception_weights, "kid_subset_size": kid_subset_size,
            "baselines": baselines, "batch_size": batch_size,
            "bootstrap": bootstrap}


def with_reference(options: dict, reference, data) -> dict:
    """`options` with the image metrics' reference: `reference` (a dataset split by name, a folder of
    images or an array file) loaded and checked against `data`; none given: the train split, as before."""
    if reference is None:
        return options
    from genbench.references import resolve_reference

    return {**options, "reference": resolve_reference(reference, data, lambda p: load_samples(p, "--reference file",
                                                                                                  "reference"))}


def score_given_features(features: str, reference_features: str, dataset, metrics, json, extractor,
                         inception_weights, kid_subset_size, baselines, bootstrap) -> dict:
    """--features: arrays extracted elsewhere, against --reference-features."""
    from genbench import env

    if dataset is not None:  # refused, not ignored: features carry no dataset to check them against
        raise GenbenchError("--dataset does not apply to --features: they are scored against --reference-features "
                            "alone; drop --dataset")
    options = metric_options(extractor, inception_weights, kid_subset_size, baselines, bootstrap=bootstrap)
    check_inception_weights(inception_weights, None)
    out = {**score_features(features, reference_features, metrics, options), "versions": env.versions()}
    if json is not None:
        write_output_json(json, out)
    return out


def score_drawn(data, source: dict, metrics, options: dict, json, n_samples, scoring_seed, dev, quiet, model=None,
                samples=None, save_samples=None) -> dict:
    """Score a model's samples (drawn here) or given samples against `data`; the record of `source`.
    `save_samples`: a .npy file for the samples as scored, which `--samples` scores alike."""
    from genbench import env
    from genbench.scoring import evaluate

    result = evaluate(data, metrics, model=model, samples=samples, n_samples=n_samples,
                      generator=torch.Generator(device=dev).manual_seed(scoring_seed),
                      progress=not quiet, options=options, keep_samples=save_samples is not None)
    if save_samples is not None:
        if result["samples"] is None:
            raise GenbenchError(f"--save-samples {save_samples}: none of the metrics scored here draws samples "
                                f"({', '.join(result['metric_names'])}); ask --metrics for one that does")
        atomic_write_npy(save_samples, result["samples"].numpy())
        source = {**source, "saved_samples": str(save_samples)}
    ref = options.get("reference")
    recorded = {} if ref is None else {"reference": ref.name, "reference_samples": len(ref)}
    out = {"metrics": result["metrics"], **({"stderr": result["stderr"]} if "stderr" in result else {}),
           "metric_names": result["metric_names"], "info": result["info"],
           "n_samples": result["n_samples"],
           "dataset": data.name, **recorded, **source, "scoring_seed": scoring_seed, "versions": env.versions(), "device": dev.type,
           "wall_time_s": result["wall_time_s"]}
    if json is not None:
        write_output_json(json, out)
    return out


def score_given_checkpoint(checkpoint: str, dataset, metrics, json, n_samples, scoring_seed, device, extractor,
                           inception_weights, kid_subset_size, baselines, bootstrap, quiet, save_samples, reference,
                           batch_size) -> dict:
    """--checkpoint: a trained model, sampled here."""
    from genbench import env
    from genbench.checkpoint import load_checkpoint
    from genbench.data import load_dataset
    from genbench.score_config import ScoreConfig
    from genbench.scoring import check_sample_memory

    metric_options(extractor, inception_weights, kid_subset_size, baselines, batch_size, bootstrap)  # checked before the model loads
    dev = env.resolve_device(device)
    model, config = load_checkpoint(checkpoint, device=str(dev))
    # As its run was scored, where the flags do not say otherwise: re-scoring a run's checkpoint gives its record.
    protocol = ScoreConfig.of_checkpoint(config, str(Path(checkpoint).with_suffix(".json")))
    n_samples = protocol.n_samples if n_samples is None else n_samples
    eval_options = protocol.eval_options
    if metrics is None:
        metrics = protocol.metrics
    else:  # the recorded windows for the metrics asked for that take them (val-loss), none for the others
        from genbench.metrics import options_taken

        eval_options = {k: v for k, v in eval_options.items() if any(k in options_taken(m) for m in metrics)}
    options = {**eval_options,
               **metric_options(extractor or protocol.extractor, inception_weights, kid_subset_size, baselines, batch_size, bootstrap)}
    ds_name = config.get("dataset")
    if dataset is not None and dataset != ds_name:
        raise GenbenchError(f"checkpoint {checkpoint} was trained on {ds_name!r}, not {dataset!r}")
    if scoring_seed is None:  # the run's own scoring stream, so that re-scoring a run's checkpoint gives its record
        from genbench.seeds import checkpoint_scoring_seed

        recorded = checkpoint_scoring_seed(config)
        scoring_seed = 0 if recorded is None else recorded
    data = load_dataset(ds_name, config.get("dataset_params", {}))
    if n_samples is not None:
        check_sample_memory(data, n_samples, "--n-samples")
    if tuple(data.shape) != tuple(model.data_shape):
        raise GenbenchError(f"checkpoint {checkpoint} has data shape {model.data_shape}; {ds_name!r} has {data.shape}")
    if data.vocab is not None and model.hparams.get("vocab") != data.vocab:
        raise GenbenchError(f"checkpoint {checkpoint} has a different vocabulary from dataset {ds_name!r} "
                            f"({len(model.hparams.get('vocab') or [])} vs {len(data.vocab)} symbols)")
    check_inception_weights(inception_weights, options["extractor"] or data.extractor)
    options = with_reference(options, reference, data)
    return score_drawn(data, {"checkpoint": str(checkpoint)}, metrics, options, json, n_samples, scoring_seed, dev, quiet,
                       model=model, save_samples=save_samples)


def score_given_samples(samples: str, dataset, metrics, json, n_samples, scoring_seed, device, extractor,
                        inception_weights, kid_subset_size, baselines, bootstrap, quiet, reference, batch_size) -> dict:
    """--samples: a .npy/.npz file or a folder of PNG images."""
    from genbench import env
    from genbench.data import check_samples, load_dataset

    options = metric_options(extractor, inception_weights, kid_subset_size, baselines, batch_size, bootstrap)
    dev = env.resolve_device(device)
    if dataset is None:
        raise GenbenchError("--samples needs --dataset NAME to score against")
    data = load_dataset(dataset)
    x = check_samples(load_samples(samples), data, what=f"samples in {samples}")
    check_inception_weights(inception_weights, extractor or data.extractor)
    options = with_reference(options, reference, data)
    return score_drawn(data, {"samples_file": str(samples)}, metrics, options, json, n_samples, scoring_seed, dev, quiet,
                       samples=x)


def score_given_factory(factory, factory_kwargs, dataset, metrics, json, n_samples, scoring_seed, device, extractor,
                        inception_weights, kid_subset_size, baselines, bootstrap, quiet, save_samples, reference,
                        batch_size) -> dict:
    """--factory: the user's model, built by their factory and sampled here."""
    from genbench import env
    from genbench.data import load_dataset
    from genbench.factories import describe, factory_samples, parse_kwargs
    from genbench.scoring import check_sample_memory, samples_wanted

    options = metric_options(extractor, inception_weights, kid_subset_size, baselines, batch_size, bootstrap)
    dev = env.resolve_device(device)
    factory_kwargs = parse_kwargs(factory_kwargs)  # bad JSON is refused before anything loads
    if dataset is None:
        raise GenbenchError("--factory needs --dataset NAME to score against")
    data = load_dataset(dataset)
    source = {"factory": describe(factory), "factory_kwargs": factory_kwargs}
    check_inception_weights(inception_weights, extractor or data.extractor)
    options = with_reference(options, reference, data)  # loaded and checked before the model draws
    n = n_samples or samples_wanted(data, metrics, options)
    check_sample_memory(data, n, "--n-samples")
    # A user's model is checked like a samples file: NaN is bad input, refused before scoring.
    drawing = time.perf_counter()
    x = factory_samples(factory, factory_kwargs, data, n, dev, scoring_seed, progress=not quiet)
    source["sampling_time_s"] = time.perf_counter() - drawing
    return score_drawn(data, source, metrics, options, json, n_samples, scoring_seed, dev, quiet, samples=x,
                       save_samples=save_samples)


# What `score` can be given, each scored by its own function, called with the arguments it names.
SCORE_SOURCES = {"checkpoint": score_given_checkpoint, "samples": score_given_samples,
                 "factory": score_given_factory, "features": score_given_features,
                 "hf_model": score_given_hf_model, "text": score_given_text}

# The sources whose samples are drawn here, so that --save-samples has something to save.
DRAWING_SOURCES = ("checkpoint", "factory")

# Options of the image metrics' own feature extraction: they go with the sources scored on images.
IMAGE_SOURCES = ("checkpoint", "samples", "factory")
IMAGE_OPTIONS = {"reference": "--reference (the real images FID, KID, precision/recall compare with)",
                 "batch_size": "--batch-size (images per forward pass of the feature extractor)"}

# An option that only one source takes, refused without it.
WITH_TEXT = "goes with --text HYPS (system outputs, one segment per line)"
SOURCE_OPTIONS = {"factory_kwargs": ("factory", "--factory-kwargs goes with --factory pkg.module:build"),
                  "hf_stride": ("hf_model", "--hf-stride goes with --hf-model DIR"),
                  "reference_features": ("features", "--features and --reference-features go together"),
                  "refs": ("text", f"--refs {WITH_TEXT}"),
                  "sacrebleu": ("text", f"--sacrebleu {WITH_TEXT}"),
                  "compare": ("text", f"--compare {WITH_TEXT}")}


def check_save_samples(save_samples, source: str, json, inputs) -> None:
    """--save-samples: a .npy file apart from the inputs, the run folders and --json, for a source that draws."""
    if source not in DRAWING_SOURCES:
        raise GenbenchError(f"--save-samples goes with --checkpoint or --factory (the sources whose samples are "
                            f"drawn here), not --{source.replace('_', '-')}")
    if Path(save_samples).suffix != ".npy":
        raise GenbenchError(f"--save-samples {save_samples} must be a .npy file (what --samples reads back)")
    output_file(save_samples, "--save-samples", inputs)
    if json is not None and not is_stdout(json) and Path(os.path.realpath(json)) == Path(os.path.realpath(save_samples)):
        raise GenbenchError(f"--save-samples {save_samples} is the --json file too; give them two paths")


def score_inputs(args: dict) -> list[tuple[str, object]]:
    """(flag, path) of every file or folder `score` reads: --json may be none of them."""
    refs = args["refs"]
    refs = [refs] if isinstance(refs, str | Path) else list(refs or [])
    pairs = [(f"--{name.replace('_', '-')}", args[name]) for name in
             ("checkpoint", "samples", "features", "reference_features", "hf_model", "text", "compare", "baselines",
              "reference")]
    if args["checkpoint"] is not None:
        from genbench.checkpoint import config_path

        pairs.append(("--checkpoint's config", config_path(Path(args["checkpoint"]))))
    return pairs + [("--refs", r) for r in refs]

def metric_names(metrics: str | list[str]) -> list[str]:
    """--metrics 'a,b' (or a list of names) as names; one that names none is refused, not read as "all"."""
    names = ([m.strip() for m in metrics.split(",")] if isinstance(metrics, str)
             else keywords.strings("metrics", metrics))
    if not [m for m in names if m]:
        raise GenbenchError(f"--metrics {metrics!r} names no metric; give comma-separated names (see "
                            "`genbench list metrics`) or leave it out for every metric that applies")
    if "" in names:
        raise GenbenchError(f"--metrics {metrics!r} has an empty name between its commas")
    return names


def score(checkpoint: str | None = None, samples: str | None = None, dataset: str | None = None,
          metrics: str | list[str] | None = None, json: str | None = None, n_samples: int | None = None,
          scoring_seed: int | None = None, device: str = "auto", extractor: str | None = None, inception_weights: str | None = None,
          kid_subset_size: int | None = None, features: str | None = None, reference_features: str | None = None,
          text: str | None = None, refs: str | list[str] | None = None, baselines: str | None = None,
          quiet: bool = False, factory=None, factory_kwargs: str | dict | None = None,
          hf_model: str | None = None, hf_stride: int | None = None, sacrebleu: list[str] | dict | None = None,
          compare: str | None = None, save_samples: str | None = None, reference: str | None = None,
          batch_size: int | None = None, bootstrap: int | None = None) -> dict:
    """Score a checkpoint (sampled here), samples (.npy/.npz/PNG folder), your own model built by
    `factory` ('pkg.module:build' or the function itself, called with `factory_kwargs`; see
    genbench/factories.py), feature arrays, a Hugging Face causal LM folder (bits per character and
    byte of the dataset's held-out text), or a file of system outputs (--text) against reference
    files (--refs), with sacrebleu's options (`sacrebleu`: ["tokenize=intl", ...] or
    {"tokenize": "intl"}) and a baseline system to test against (`compare`).

    Likelihoods use the dataset's test split; image metrics compare with its train split through
    a feature extractor (the dataset's domain classifier unless `extractor` names another).
    `json`: a file written atomically, or '-' (also '/dev/stdout') for standard output.
    `save_samples`: a .npy file for the samples drawn here (checkpoint or factory) as they were scored.
    `reference`: the real images the image metrics compare with instead of the train split: a dataset
    split by name ('digits-test', 'fashion-mnist-train'), a folder of PNG/JPEG files or an .npy/.npz
    array (recorded as the result's "reference" and in each image metric's info; genbench.references).
    `batch_size`: images per forward pass of the feature extractor (speed and memory, not the numbers).
    `bootstrap`: N resamples of the samples (or features) for the image metrics' standard errors, in
    the result's "stderr" (off by default: each resample re-scores, the features are extracted once).
    """
    args = dict(locals())
    for name in ("checkpoint", "samples", "json", "inception_weights", "features", "reference_features", "text",
                 "baselines", "hf_model", "compare", "save_samples", "reference"):
        keywords.path(name, args[name])
    keywords.paths("refs", refs)
    keywords.integer("n_samples", n_samples)
    keywords.integer("kid_subset_size", kid_subset_size)
    keywords.integer("hf_stride", hf_stride)
    keywords.integer("batch_size", batch_size, low=1)
    keywords.integer("bootstrap", bootstrap)
    keywords.boolean("quiet", quiet)
    if scoring_seed is not None:
        seeds.check(scoring_seed, "--scoring-seed")
    if not isinstance(device, str):
        raise GenbenchError(f"--device must be one of auto, cpu, cuda, got {device!r}")
    if not isinstance(sacrebleu, dict):
        args["sacrebleu"] = keywords.strings("sacrebleu", sacrebleu)
    if metrics is not None:
        args["metrics"] = metric_names(metrics)
    given = [name for name in SCORE_SOURCES if args[name] is not None]
    if len(given) != 1:
        raise GenbenchError("give exactly one of --checkpoint FILE, --samples FILE|DIR, --factory pkg.module:build, "
                            "--features FILE, --hf-model DIR or --text FILE")
    source = given[0]
    for option, (owner, message) in SOURCE_OPTIONS.items():
        if args[option] is not None and owner != source:
            raise GenbenchError(message)
    for option, what in IMAGE_OPTIONS.items():
        if args[option] is not None and source not in IMAGE_SOURCES:
            raise GenbenchError(f"{what} goes with --checkpoint, --samples or --factory, whose samples are scored "
                                f"through a feature extractor here, not --{source.replace('_', '-')}")
    if source == "features" and reference_features is None:
        raise GenbenchError(SOURCE_OPTIONS["reference_features"][1])
    if json is not None and not is_stdout(json):
        output_file(json, "--json", score_inputs(args))
    if save_samples is not None:
        check_save_samples(save_samples, source, json, score_inputs(args))
    if source != "text" and n_samples is not None and n_samples < 1:
        raise GenbenchError(f"--n-samples must be positive, got {n_samples}")
    if source != "checkpoint" and scoring_seed is None:
        args["scoring_seed"] = 0
    scorer = SCORE_SOURCES[source]
    return scorer(**{name: args[name] for name in inspect.signature(scorer).parameters})


def fetch(what: str) -> dict:
    """Download once (SHA-256 checked before anything is written) and verify the files `what` needs:
    'inception' (Inception-v3 weights for the inception-v3-compat extractor) or a dataset's files.
    Run on an online machine, then copy the files into an air-gapped machine's cache or $GENBENCH_DATA."""
    from genbench.data import DATASETS, load_dataset
    from genbench.data.fetch import recording

    if not isinstance(what, str):
        raise GenbenchError(f"fetch takes a name ('inception' or a dataset), got {what!r}")
    if what == "inception":
        from genbench.features.inception import find_weights

        files = [find_weights()]
    elif what in DATASETS:
        with recording() as files:
            load_dataset(what)
    else:
        raise GenbenchError(unknown_name_message("fetch target", what, ["inception", *DATASETS.names()]))
    return {"name": what, "files": [str(f) for f in dict.fromkeys(files)]}


def train_extractor(recipe: str, baselines: str | None = None, quiet: bool = False) -> dict:
    """Train a domain classifier (feature extractor) by baselines/<dataset>/classifier.toml."""
    from genbench.features.train import train_extractor as run

    keywords.path("recipe", recipe, optional=False)
    keywords.path("baselines", baselines)
    return run(recipe, baselines=baselines, quiet=quiet)


def bench(suite: str, runs: str = "runs", leaderboards: str = "leaderboards", device: str | None = None,
          baselines: str | None = None, plots: bool = True, jobs: int = 1, ray: str | None = None,
          quiet: bool = False, recipes: list[str] | str | None = None, threads: int | None = None,
          batch_seeds: bool = False) -> dict:
    """Run every recipe x seed of a suite that has no current record (in `jobs` worker processes, or
    as tasks of the Ray cluster at `ray`: "local", "auto", "ray://host:port"), then rebuild its
    tables. `recipes` globs run part of the suite (the table still lists the rest as not run). A
    run that fails is listed under "failed" and the others go on. `threads`: torch threads per run
    (default: this process's setting when serial, cores/jobs in workers, 1 per Ray task); runs with
    the same thread count give the same numbers however they are spread. `batch_seeds`: train each
    recipe's seeds together (genbench.seed_batch), as recipes with `seeds_batched = true` always do."""
    from genbench.bench import executor, run_all
    from genbench.leaderboard import build_leaderboard
    from genbench.recipes import check_recipe, load_suite
    from genbench.env import resolve_device
    from genbench.runs import check_batchable, check_replaceable, run_dir

    for name, value in (("runs", runs), ("leaderboards", leaderboards)):
        keywords.path(name, value, optional=False)
    keywords.path("baselines", baselines)
    keywords.integer("jobs", jobs, optional=False)
    keywords.integer("threads", threads)
    for name, value in (("plots", plots), ("quiet", quiet), ("batch_seeds", batch_seeds)):
        keywords.boolean(name, value)
    recipes = keywords.strings("recipes", recipes)
    if device is not None:
        resolve_device(device)  # a device this machine lacks fails every run alike: refused once, up front
    start = time.perf_counter()
    _, every = load_suite(suite, baselines)
    chosen = set(select_by_glob([r.id for r in every], recipes, f"of suite {suite!r}"))
    recipes = [r for r in every if r.id in chosen]
    for r in recipes:  # refuse a bad suite, or outputs that cannot be written, before any training
        check_recipe(r)
    todo = [(r, s) for r in recipes for s in r.seeds]
    for r, s in todo:
        output_folder(run_dir(runs, r, s), "--runs")
        check_replaceable(runs, r, s)
    output_folder(leaderboards, "--leaderboards", runs_inside=False)
    batched = [r for r in recipes if r.seeds_batched or batch_seeds]
    if batched and ray is not None:
        raise GenbenchError(f"--ray does not train seeds batched (as {batched[0].id} asks); run it without --ray")
    for r in batched:
        check_batchable(r)
    if ray is not None and jobs != 1:
        raise GenbenchError("--ray and --jobs do not go together: the Ray cluster decides how many runs go at once")
    if ray is not None:
        from genbench.bench_ray import ray_executor

        execute = ray_executor(ray, threads)  # before anything is written: an unreachable cluster is bad input
    else:
        execute = executor(jobs, threads)
    outcome = run_all(todo, runs, device=device, execute=execute, progress=not quiet, plots=plots,
                      batch_seeds=batch_seeds)
    try:
        table = build_leaderboard(suite, runs=runs, out=leaderboards, baselines=baselines, plots=plots)
    except GenbenchError:
        if not outcome.failed:
            raise
        table = {"markdown": None, "csv": None}  # every run failed: there is no table to write
    table.update({"ran": len(outcome.ran), "skipped": len(outcome.skipped), "failed": outcome.failed,
                  "wall_time_s": time.perf_counter() - start})
    return table


def check_board_keywords(runs, leaderboards, baselines) -> None:
    keywords.path("runs", runs, optional=False)
    keywords.path("leaderboards", leaderboards, optional=False)
    keywords.path("baselines", baselines)


def leaderboard(suite: str, runs: str = "runs", leaderboards: str = "leaderboards",
                baselines: str | None = None, plots: bool = True, allow_empty: bool = False,
                html: bool = False) -> dict:
    """Rebuild a suite's Markdown and CSV tables and plots from the runs folder alone (records and
    the plot artefacts beside them); with `html`, its page of the site under <leaderboards>/site/."""
    from genbench.leaderboard import build_leaderboard

    check_board_keywords(runs, leaderboards, baselines)
    for name, value in (("plots", plots), ("allow_empty", allow_empty), ("html", html)):
        keywords.boolean(name, value)
    output_folder(leaderboards, "--leaderboards", runs_inside=False)
    if html:
        output_folder(Path(leaderboards) / "site", "--leaderboards", runs_inside=False)
    return build_leaderboard(suite, runs=runs, out=leaderboards, baselines=baselines, plots=plots,
                             allow_empty=allow_empty, html=html)


def site(runs: str = "runs", leaderboards: str = "leaderboards", baselines: str | None = None) -> dict:
    """Write the static site <leaderboards>/site/: a page per suite with run records, and an index."""
    from genbench.leaderboard import build_site

    check_board_keywords(runs, leaderboards, baselines)
    output_folder(Path(leaderboards) / "site", "--leaderboards", runs_inside=False)
    return build_site(runs=runs, out=leaderboards, baselines=baselines)


def gate(baseline: str, results: str, tolerance: list[str] | dict[str, float] | None = None,
         allow_missing: bool = False, recipes: list[str] | str | None = None, alpha: float = 0.01,
         json: str | None = None):
    """Compare results (records folder, record.json or CSV) with a baseline CSV: a metric fails when it is
    worse by more than its tolerance and significantly over seeds (Welch's t, one-sided, level `alpha`).
    `recipes`: glob(s) over recipe ids, to gate part of a suite. `json`: every compared metric (baseline,
    now, tolerance, t, df, p, verdict) written atomically to this file, or '-' for standard output,
    pass or fail."""
    from genbench.leaderboard.gate import gate as run_gate

    keywords.path("baseline", baseline, optional=False)
    keywords.path("results", results, optional=False)
    keywords.real("alpha", alpha, optional=False)
    keywords.boolean("allow_missing", allow_missing)
    if not isinstance(tolerance, dict):
        tolerance = keywords.strings("tolerance", tolerance)
    recipes = keywords.strings("recipes", recipes)
    keywords.path("json", json)
    if json is not None and not is_stdout(json):
        output_file(json, "--json", [("--baseline", baseline), ("--results", results)])
    result = run_gate(baseline, results, tolerance=tolerance, allow_missing=allow_missing, recipes=recipes, alpha=alpha)
    if json is not None:
        write_output_json(json, result.as_dict())
    return result
