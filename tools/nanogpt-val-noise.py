"""How far nanoGPT's 20 x 12-window validation loss can fall from the model's mean over all windows.

    python tools/nanogpt-val-noise.py RUNS SEED...

For each trained seed of shakespeare-char/nanogpt under RUNS: the mean loss over every 4th
validation window (the quantity estimate_loss estimates), the spread of 5000 redraws of a 240-window
estimate, the fraction of them at or below the README's 1.88, and the same loss on 4000 random
training windows (so that a train-loss reading of "1.88" can be ruled in or out).
"""

import json
import sys

import torch
import torch.nn.functional as F

from genbench.checkpoint import load_checkpoint
from genbench.data import load_dataset
from genbench.recipes import load_recipe

torch.set_num_threads(1)
runs, seeds = sys.argv[1], [int(s) for s in sys.argv[2:]]
r = load_recipe("shakespeare-char/nanogpt")
d = load_dataset(r.dataset, r.dataset_params)
T = d.test.shape[1]


def per_window(model, stream, starts):
    out = []
    with torch.no_grad():
        for chunk in starts.split(512):
            x = stream[chunk[:, None] + torch.arange(T)]
            logits = model.next_logits(x)[:, 1:]
            out.append(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1),
                                       reduction="none").view(len(chunk), -1).mean(1))
    return torch.cat(out)


for seed in seeds:
    model = load_checkpoint(f"{runs}/shakespeare-char/nanogpt/seed{seed}/model.safetensors")[0].eval()
    g = torch.Generator().manual_seed(1)
    val = d.test.reshape(-1)
    every = per_window(model, val, torch.arange(0, len(val) - T + 1, 4))
    est = torch.stack([every[torch.randint(len(every), (240,), generator=g)].mean() for _ in range(5000)])
    train = torch.cat([d.train[:, 0], d.train[-1, 1:]])
    tr = per_window(model, train, torch.randint(len(d.train), (4000,), generator=g))
    print(json.dumps({"seed": seed, "val_every_4th_window": every.mean().item(), "estimate_240_sd": est.std().item(),
                      "P(estimate_240 <= 1.88)": (est <= 1.88).float().mean().item(),
                      "train_4000_windows": tr.mean().item()}), flush=True)
