"""Recipes: declarative, versioned TOML files under baselines/<dataset>/<name>.toml.

A recipe names a dataset, a model with its hyper-parameters, a training budget, the metrics to
report, the seeds and the device, and optionally the published figures it reproduces. Loading
validates everything against the registries before any work starts. The recipe's hash covers what
the file declares that sets the numbers (not the seeds, the device, `seeds_batched`, the description or the published
figures) and is stamped on every run record and leaderboard row; a change of meaning that the file
does not show (a new default in code) is marked by bumping `version`.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from genbench.data import DATASETS, load_dataset
from genbench.env import DEVICES
from genbench import seeds as seed_streams
from genbench.errors import GenbenchError
from genbench.metrics import METRICS
from genbench.models import FROM_DATASET, MODELS, takes_from_dataset
from genbench.paths import baselines_dir, not_a_file
from genbench.recipes.published import Published, parse_references
from genbench.registry import check_params, unknown_name_message
from genbench import score_config
from genbench.score_config import ScoreConfig
from genbench.scoring import check_sample_memory, select_metrics
from genbench.training import TrainConfig

TOP_KEYS = {"version", "description", "dataset", "seeds", "device", "seeds_batched", "model", "train", "score",
            "published"}
SCORE_KEYS = {*score_config.KEYS, "curve_every"}


@dataclass(frozen=True)
class Recipe:
    id: str  # "<dataset>/<name>", the path under baselines/ without .toml
    path: Path
    version: int
    description: str
    dataset: str
    dataset_params: dict
    model: str
    model_params: dict
    train: TrainConfig
    train_params: dict  # as declared in the file
    metrics: list[str] | None
    n_samples: int | None  # samples scored per run (default: each metric's protocol count)
    seeds: list[int]
    device: str
    seeds_batched: bool = False  # how the seeds train, like the device (not hashed): genbench.seed_batch
    extractor: str | None = None  # feature extractor for image metrics (default: the dataset's)
    eval_options: dict = field(default_factory=dict)  # [score] eval_iters / eval_batch_size, where given
    curve_every: int = 0  # [score] curve_every: score every N training steps into a curve (genbench.curve); 0 = off
    published: Published | None = None  # the published figures this recipe reproduces (not hashed)
    published_also: tuple[Published, ...] = ()  # further references for the same row, each its own line
    baselines: Path | None = None  # the baselines folder it was loaded from: domain extractors' weights
    # A file outside the baselines folder: its id, <folder>/<stem>, is borrowed, and may be a baselines
    # recipe's too, so its runs never replace a record of another recipe hash (genbench.runs).
    external: bool = False
    hash: str = field(default="")

    def identity(self) -> dict:
        """What determines a run's numbers, given its seed."""
        return {"version": self.version, "dataset": self.dataset, "dataset_params": self.dataset_params,
                "model": self.model, "model_params": self.model_params, "train": self.train_params,
                # Hashed under its old key, "samples", so that renaming the key changed no recipe's hash.
                "metrics": self.metrics, "samples": self.n_samples,
                **({"extractor": self.extractor} if self.extractor else {}), **self.eval_options,
                **({"curve_every": self.curve_every} if self.curve_every else {})}

    def references(self) -> tuple[Published, ...]:
        """Every published figure the row is read against, first the [published] table's."""
        return () if self.published is None else (self.published, *self.published_also)

    def score_config(self) -> ScoreConfig:
        """How its runs are scored, as their checkpoints carry it (genbench.score_config)."""
        return ScoreConfig(self.metrics, self.n_samples, self.extractor, self.eval_options)

    def score_options(self) -> dict:
        """What the metrics are built with (genbench.scoring's `options`)."""
        return {"extractor": self.extractor, "baselines": self.baselines, **self.eval_options}


def _fail(where: str, message: str):
    raise GenbenchError(f"{where}: {message}")


def parse_recipe(text: str, recipe_id: str, path: Path, baselines: Path | None = None,
                 external: bool = False) -> Recipe:
    where = f"recipe {path}"
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        _fail(where, f"not valid TOML ({e})")
    except RecursionError:
        _fail(where, "nested too deeply to read")
    for key in raw:
        if key not in TOP_KEYS:
            _fail(where, unknown_name_message("recipe key", key, sorted(TOP_KEYS)))
    for key in ("version", "dataset", "model"):
        if key not in raw:
            _fail(where, f"missing required key {key!r}")
    version = raw["version"]
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        _fail(where, f"'version' must be a positive integer, got {version!r}")

    ds = raw["dataset"]
    if not isinstance(ds, str | dict) or (isinstance(ds, dict) and not isinstance(ds.get("name"), str)):
        _fail(where, f"'dataset' must be a name or a table with a 'name', got {ds!r}")
    ds_name, ds_params = (ds, {}) if isinstance(ds, str) else (ds["name"], {k: v for k, v in ds.items() if k != "name"})
    if ds_name not in DATASETS:
        _fail(where, unknown_name_message("dataset", ds_name, DATASETS.names()))
    check_params(f"dataset {ds_name!r}", DATASETS.get(ds_name), ds_params, where=where)

    model = raw["model"]
    if not isinstance(model, dict) or not isinstance(model.get("name"), str):
        _fail(where, "[model] must be a table with a 'name'")
    model_params = {k: v for k, v in model.items() if k != "name"}
    if model["name"] not in MODELS:
        _fail(where, unknown_name_message("model", model["name"], MODELS.names()))
    check_params(f"model {model['name']!r}", MODELS.get(model["name"]).__init__, model_params,
                 skip=("self", "data_shape", *FROM_DATASET), where=where)  # filled in from the dataset

    train = raw.get("train", {})
    if not isinstance(train, dict):
        _fail(where, "[train] must be a table")
    check_params("[train]", TrainConfig, train, where=where)

    score = raw.get("score", {})
    if not isinstance(score, dict):
        _fail(where, "[score] must be a table")
    for key in score:
        if key not in SCORE_KEYS:
            _fail(where, unknown_name_message("[score] key", key, sorted(SCORE_KEYS)))
    declared = ScoreConfig.parse(score, f"{where}: [score]")
    metrics, n_samples, eval_options = declared.metrics, declared.n_samples, declared.eval_options

    curve_every = score.get("curve_every", 0)
    steps = train.get("steps", TrainConfig.steps)
    if "curve_every" in score and (not isinstance(curve_every, int) or isinstance(curve_every, bool)
                                   or not 1 <= curve_every <= steps):
        _fail(where, f"[score] curve_every must be a number of steps from 1 to [train] steps ({steps}), "
                     f"got {curve_every!r}")
    extractor = declared.extractor
    seeds = raw.get("seeds", [0])
    if not isinstance(seeds, list) or not seeds:
        _fail(where, f"'seeds' must be a non-empty list of non-negative integers, got {seeds!r}")
    for s in seeds:
        seed_streams.check(s, f"{where}: each of 'seeds'")
    device = raw.get("device", "auto")
    if device not in DEVICES:
        _fail(where, unknown_name_message("device", str(device), list(DEVICES)))
    seeds_batched = raw.get("seeds_batched", False)
    if not isinstance(seeds_batched, bool):
        _fail(where, f"'seeds_batched' must be true or false, got {seeds_batched!r}")
    description = raw.get("description", "")
    if not isinstance(description, str):
        _fail(where, "'description' must be a string")

    published, published_also = None, ()
    if "published" in raw:
        outputs = [o.key for m in (metrics or METRICS.names()) for o in METRICS.get(m).outputs]
        published, *published_also = parse_references(raw["published"], outputs, where)

    recipe = Recipe(id=recipe_id, path=path, version=version, description=description, dataset=ds_name,
                    dataset_params=ds_params, model=model["name"], model_params=model_params,
                    train=TrainConfig(**train), train_params=dict(train), metrics=metrics, n_samples=n_samples, seeds=seeds, device=device,
                    seeds_batched=seeds_batched,
                    extractor=extractor, eval_options=eval_options, curve_every=curve_every, published=published,
                    published_also=tuple(published_also),
                    baselines=baselines, external=external)
    digest = hashlib.sha256(json.dumps(recipe.identity(), sort_keys=True).encode()).hexdigest()[:12]
    return Recipe(**{**recipe.__dict__, "hash": digest})


def check_recipe(recipe: Recipe, dataset=None) -> None:
    """Refuse [train] options, metrics and models this recipe's dataset cannot take, before any training."""
    dataset = dataset if dataset is not None else load_dataset(recipe.dataset, recipe.dataset_params)
    has_log_prob = MODELS.get(recipe.model).has_log_prob
    try:
        recipe.train.check(dataset)
        select_metrics(dataset, recipe.metrics, True, has_log_prob, recipe.score_options())
        if recipe.n_samples is not None:
            check_sample_memory(dataset, recipe.n_samples, "[score] n_samples")
    except GenbenchError as e:
        raise GenbenchError(f"recipe {recipe.path}: {e}") from None
    needs = {"vocab": "a vocabulary (text)", "levels": "grey levels (discrete images)"}  # `images` is always known
    for param in takes_from_dataset(recipe.model):
        if param in needs and getattr(dataset, param) is None:
            what = needs[param]
            raise GenbenchError(f"recipe {recipe.path}: model {recipe.model!r} needs a dataset with {what}; "
                                f"{dataset.name!r} has none")


def list_recipes(baselines: str | os.PathLike | None = None) -> list[str]:
    root = baselines_dir(baselines)
    return sorted(p.relative_to(root).with_suffix("").as_posix() for p in root.glob("*/*.toml")
                  if p.name != "classifier.toml")  # feature-extractor recipes: `genbench train-extractor`


def load_recipe(name_or_path: str | os.PathLike, baselines: str | os.PathLike | None = None) -> Recipe:
    """A recipe by id ('grid25/gmm') from baselines/, or by the path of a .toml file."""
    as_path = Path(name_or_path)
    if as_path.suffix == ".toml" or as_path.is_file():
        if why := not_a_file(as_path):
            raise GenbenchError(f"recipe file {as_path} {why}")
        path = as_path
        try:
            root = baselines_dir(baselines).resolve()
        except GenbenchError:
            if baselines is not None:
                raise
            root = None  # a recipe file outside any checkout still loads
        resolved = path.resolve()
        external = not (root and resolved.is_relative_to(root))
        recipe_id = f"{resolved.parent.name}/{path.stem}" if external else resolved.relative_to(root).with_suffix("").as_posix()
    else:
        root = baselines_dir(baselines)
        path = root / f"{name_or_path}.toml"
        # An id names a file inside the baselines folder: '../x' or '/x' would reach outside it, and the
        # run folder named after the id outside --runs.
        if not path.resolve().is_relative_to(root.resolve()):
            raise GenbenchError(f"recipe id {name_or_path!r} resolves outside the baselines folder {root}; "
                                "give a recipe id (see `genbench list recipes`) or the path of a .toml file")
        if not path.is_file():
            raise GenbenchError(unknown_name_message("recipe", str(name_or_path), list_recipes(root)))
        recipe_id, external = Path(os.path.normpath(name_or_path)).as_posix(), False  # one id per file
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise GenbenchError(f"recipe {path} cannot be read ({e})") from None
    return parse_recipe(text, recipe_id, path, root.resolve() if root else None, external)


def load_suites(baselines: str | os.PathLike | None = None) -> dict[str, dict]:
    root = baselines_dir(baselines)
    path = root / "suites.toml"
    if not path.is_file():
        raise GenbenchError(f"no suites file at {path}")
    try:
        suites = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise GenbenchError(f"{path} is not valid TOML ({e})") from None
    except RecursionError:
        raise GenbenchError(f"{path} is nested too deeply to read") from None
    for name, suite in suites.items():
        if not isinstance(suite, dict) or not isinstance(suite.get("recipes"), list):
            raise GenbenchError(f"{path}: suite {name!r} needs a 'recipes' list")
        if not isinstance(suite.get("keep_records", False), bool):
            raise GenbenchError(f"{path}: suite {name!r}: keep_records must be true or false "
                                f"(keep its runs' records under the leaderboards folder), got {suite['keep_records']!r}")
    return suites


def load_suite(name: str, baselines: str | os.PathLike | None = None) -> tuple[dict, list[Recipe]]:
    suites = load_suites(baselines)
    if name not in suites:
        raise GenbenchError(unknown_name_message("suite", name, list(suites)))
    suite = suites[name]
    return suite, [load_recipe(r, baselines) for r in suite["recipes"]]
