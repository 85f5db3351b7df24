"""Mode coverage of one run of a recipe, scored every EVERY steps up to STEPS, to see how its numbers
move with training length (e.g. how far a shortened recipe is from its paper's protocol).

    PYTHONPATH=. python tools/coverage-by-step.py ring8/pacgan1 --seed 0 --every 4000 --steps 24000

The run is trained by genbench's own trainer, seeded as `genbench train` seeds it: each segment of
EVERY steps resumes from the state the last one saved (in a temporary folder), so the point at the
recipe's own step count equals that run's record. Each point is scored as a run is (the recipe's
coverage metric, from the score stream 10_000 + seed). One JSON line per point; these numbers are a
diagnostic, not a leaderboard entry."""

import argparse
import dataclasses
import json
import tempfile
from pathlib import Path

import torch

from genbench.data import load_dataset
from genbench.env import seed_everything, torch_threads
from genbench.models import build_for
from genbench.recipes import check_recipe, load_recipe
from genbench.scoring import evaluate
from genbench.training import fit


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("recipe")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--every", type=int, required=True, help="score every N steps")
    ap.add_argument("--steps", type=int, required=True, help="train this many steps in all")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as in bench --jobs 2 on 2 cores)")
    args = ap.parse_args()
    recipe = load_recipe(args.recipe)
    data = load_dataset(recipe.dataset, recipe.dataset_params)
    check_recipe(recipe, data)
    generator = seed_everything(args.seed, torch.device("cpu"))
    model = build_for(recipe.model, data, recipe.model_params)
    with torch_threads(args.threads), tempfile.TemporaryDirectory() as state:
        for steps in range(args.every, args.steps + 1, args.every):
            cfg = dataclasses.replace(recipe.train, steps=steps, checkpoint_every=args.every)
            info = fit(model, data, cfg, generator, progress=False, state_dir=Path(state), state_key=recipe.hash)
            model.eval()
            scores = evaluate(data, ["coverage"], model=model, n_samples=recipe.n_samples, progress=False,
                              generator=torch.Generator().manual_seed(10_000 + args.seed))
            print(json.dumps({"recipe": args.recipe, "seed": args.seed, "step": steps, **scores["metrics"],
                              "train_s": round(info["wall_time_s"])}), flush=True)


if __name__ == "__main__":
    main()
