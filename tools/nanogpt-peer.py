"""nanoGPT's own code beside genbench's shakespeare-char/nanogpt row: score the checkpoints that
nanoGPT's train.py wrote over every validation window, as genbench's val_loss_all does.

    # in a nanoGPT checkout at 3adf61e, data/shakespeare_char/input.txt copied from ../shared/data:
    python data/shakespeare_char/prepare.py
    # torch.manual_seed(1337) made SEED-settable, the only change; the README's CPU command, one thread,
    # a checkpoint at every evaluation so that the last one is the model after 2000 updates:
    SEED=1337 OMP_NUM_THREADS=1 python train.py config/train_shakespeare_char.py --device=cpu --compile=False \
        --eval_iters=20 --log_interval=1 --block_size=64 --batch_size=12 --n_layer=4 --n_head=4 --n_embd=128 \
        --max_iters=2000 --lr_decay_iters=2000 --dropout=0.0 --always_save_checkpoint=True --out_dir=out-s1337
    python tools/nanogpt-peer.py NANOGPT_DIR out-s1337 out-s1338 out-s1339

For each out dir: the step-2000 val loss train.py printed (its log, `log-<dir suffix>.txt` beside it, if
there) and the mean loss over all windows of the validation stream, on genbench's own split of the same
text (which test_nanogpt.py checks is prepare.py's).
"""

import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from genbench.data import load_dataset
from genbench.recipes import load_recipe

torch.set_num_threads(1)
root, outs = Path(sys.argv[1]), sys.argv[2:]
sys.path.insert(0, str(root))
from model import GPT, GPTConfig  # noqa: E402  (nanoGPT's model.py)

r = load_recipe("shakespeare-char/nanogpt")
stream = load_dataset(r.dataset, r.dataset_params).test.reshape(-1)
T = r.dataset_params["context"]
windows = stream.unfold(0, T, 1)

for out in outs:
    ckpt = torch.load(root / out / "ckpt.pt", map_location="cpu", weights_only=True)
    model = GPT(GPTConfig(**ckpt["model_args"]))
    model.load_state_dict({k.removeprefix("_orig_mod."): v for k, v in ckpt["model"].items()})
    model.eval()
    total = 0.0
    with torch.no_grad():
        for x in windows.split(512):
            logits, _ = model(x[:, :-1].contiguous(), x[:, 1:].contiguous())  # with targets: logits at every position
            total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1),
                                     reduction="none").view(len(x), -1).mean(1).double().sum().item()
    log = root / f"log-{out.split('-')[-1]}.txt"
    printed = next((ln for ln in log.read_text().splitlines() if ln.startswith("step 2000:")), "") if log.exists() else ""
    print(json.dumps({"out": out, "iter_num": ckpt["iter_num"], "printed": printed,
                      "val_loss_all": total / len(windows), "windows": len(windows)}), flush=True)
