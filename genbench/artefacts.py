"""What a run leaves beside its record for the leaderboards to show, so that tables, plots and
the site are drawn from the runs folder alone and rebuilding them never loads a model.

The run of a recipe's first seed (the seed the plots show) writes one artefact: for points and
images, its sample plot (a scatter against the known modes, or a grid; genbench.figures.samples);
for text, the data of its temperature sweep (genbench.figures.tradeoff), from which the
trade-off curve is drawn. A run recorded before artefacts existed gets its artefact drawn once
from its checkpoint, the first time a leaderboard needs it (genbench.leaderboard).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from genbench import scoring, seeds
from genbench.data import Dataset
from genbench.errors import GenbenchError
from genbench.figures import samples as sample_plots
from genbench.figures import tradeoff
from genbench.io import atomic_write_json

SAMPLES = "samples.png"  # points and images: the sample plot, as the leaderboard shows it
SWEEP = "sweep.json"  # text: BLEU and Self-BLEU per temperature, and the training text's point
NAMES = (SAMPLES, SWEEP)
PLOT_POINTS = 1000  # points in a scatter plot


def find(folder: Path) -> Path | None:
    """The artefact a run folder holds, if any."""
    return next((folder / n for n in NAMES if (folder / n).is_file()), None)


def title(recipe_id: str, seed: int) -> str:
    return f"{recipe_id} (seed {seed})"


def draw(folder: Path, model, dataset: Dataset, title: str, device: torch.device | str = "cpu") -> Path:
    """Sample the model and write its artefact into the run folder (atomically)."""
    if dataset.kind == "text":
        rows = tradeoff.sweep(model, dataset, seed=seeds.PLOT, device=device)
        return atomic_write_json(folder / SWEEP, {"title": title, "sweep": rows,
                                                  "real": list(tradeoff.real_point(dataset))})
    n = PLOT_POINTS if dataset.kind == "points" else sample_plots.GRID
    samples = scoring.draw_samples(model, n, torch.Generator(device=device).manual_seed(seeds.PLOT), progress=False)
    return sample_plots.write_sample_plot(folder / SAMPLES, samples, dataset, title)


def read_sweep(path: Path) -> dict:
    """A sweep.json: {"title", "sweep": [{"temperature", "bleu", "self_bleu"}...], "real": [bleu, self_bleu]}."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        rows = [{k: float(r[k]) for k in ("temperature", "bleu", "self_bleu")} for r in data["sweep"]]
        real = (float(data["real"][0]), float(data["real"][1]))
        return {"title": str(data["title"]), "sweep": rows, "real": real}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, IndexError, TypeError, ValueError) as e:
        raise GenbenchError(f"sweep data {path} cannot be read ({type(e).__name__}: {e})") from None
