"""Mode coverage of one run of a recipe, scored every EVERY steps up to STEPS, to see how its numbers
move with training length (e.g. how far a shortened recipe is from its paper's protocol).

    PYTHONPATH=. python tools/coverage-by-step.py ring8/pacgan1 --seed 0 --every 4000 --steps 24000

Trains as a run does (the seeding, batches and train_step of `genbench train`, one torch thread
unless --threads), so the row at the recipe's own step count equals that run's record, and scores
each point like a run (2500 samples from the score stream 10_000 + seed). One JSON line per point.
Nothing is written to disk: these numbers are a diagnostic, not a leaderboard entry."""

import argparse
import json
import time

import torch

from genbench.data import load_dataset
from genbench.env import seed_everything
from genbench.metrics.coverage import mode_histogram, reverse_kl_to_uniform
from genbench.models import build_model
from genbench.recipes import check_recipe, load_recipe
from genbench.training import EpochSampler


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("recipe")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--every", type=int, required=True, help="score every N steps")
    ap.add_argument("--steps", type=int, required=True, help="train this many steps in all")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as in bench --jobs 2 on 2 cores)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    recipe = load_recipe(args.recipe)
    data = load_dataset(recipe.dataset, recipe.dataset_params)
    check_recipe(recipe, data)
    if data.modes is None:
        raise SystemExit(f"{args.recipe}: dataset {data.name!r} has no mode centres")
    generator = seed_everything(args.seed, torch.device("cpu"))
    model = build_model(recipe.model, data.shape, recipe.model_params, vocab=data.vocab, levels=data.levels)
    x = data.train
    model.initialize(data.continuous(x, generator), generator)
    model.configure_training(recipe.train)
    sampler = EpochSampler(len(x), recipe.train.batch_size, generator)
    start = time.perf_counter()
    for step in range(1, args.steps + 1):
        idx = sampler.next()
        model.train_step(data.continuous(x if idx is None else x[idx], generator), generator)
        if step % args.every == 0:
            samples = model.sample(2500, torch.Generator().manual_seed(10_000 + args.seed))
            counts, hq = mode_histogram(samples, data.modes, data.mode_std)
            print(json.dumps({"recipe": args.recipe, "seed": args.seed, "step": step, "modes": int((counts > 0).sum()),
                              "hq_fraction": hq / len(samples), "reverse_kl": round(reverse_kl_to_uniform(counts), 4),
                              "train_s": round(time.perf_counter() - start)}), flush=True)


if __name__ == "__main__":
    main()
