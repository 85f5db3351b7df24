"""Train ring8/made for a few steps with genbench's trainer and write the loss of each global batch
(averaged over ranks under torchrun) to argv[1]. Used by tests/test_distributed.py."""

import json
import sys

import torch
import torch.distributed as dist

from genbench import distributed
from genbench.data import load_dataset
from genbench.env import seed_everything
from genbench.models import build_model
from genbench.recipes import load_recipe
from genbench.training import TrainConfig, fit

out, steps = sys.argv[1], int(sys.argv[2])
distributed.init(torch.device("cpu"))
recipe = load_recipe("ring8/made")
dataset = load_dataset("ring8")
generator = seed_everything(0, torch.device("cpu"))
model = build_model("made", dataset.shape, recipe.model_params)
losses = []
step = model.train_step


def logged_step(batch, g):
    stats = step(batch, g)
    loss = torch.tensor([stats["loss"]], dtype=torch.float64)
    if dist.is_initialized():
        dist.all_reduce(loss)
        loss /= dist.get_world_size()
    losses.append(loss.item())
    return stats


model.train_step = logged_step
fit(model, dataset, TrainConfig(steps=steps, batch_size=256, lr=1e-3), generator, progress=False)
if distributed.rank() == 0:
    params = {k: v.double().sum().item() for k, v in model.state_dict().items()}
    json.dump({"losses": losses, "params": params, "world": distributed.size()}, open(out, "w"))
distributed.finish()
