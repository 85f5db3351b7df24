"""nanoGPT's validation loss (Karpathy, nanoGPT, train.py `estimate_loss` and `get_batch`).

    for k in 1..eval_iters:   i_1..i_B ~ U{0, .., len(val) - block_size - 1}     (B = eval_batch_size)
        loss_k = mean over b, t of -log P(val[i_b + t] | val[i_b .. i_b + t - 1]),  t = 1..block_size
    val_loss = mean_k loss_k                                                     nats per character

on random windows of block_size + 1 characters of the validation stream, the model in eval mode
(no dropout). Here the stream is the test split's consecutive rows laid end to end (a dataset with
`stream`), a window is one row's length T = block_size + 1, and the window's first character is
given: an autoregressive model conditions it on BOS, and its own term (P(x_1 | BOS)) is left out, so
every term is one of nanoGPT's. The draws come from the run's scoring stream, so each seed is scored
on windows of its own, as each of nanoGPT's runs draws its own from its seed's stream: an estimate's
noise then averages out over seeds instead of being shared by all of them. `eval_iters` x
`eval_batch_size` windows estimate the mean over every window of the stream, which is reported too:

    val_loss_all = mean over every start i in 0 .. len(val) - block_size - 1 of loss(window i)

(genbench's `perplexity` scores every non-overlapping test row from its start instead). That mean
costs a forward pass per start (111,476 on shakespeare-char: about 5 minutes of one CPU thread for
nanoGPT's CPU model); `eval_every = k` averages the windows at every k-th start instead.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from genbench.data import Dataset
from genbench.data.text import not_text
from genbench.errors import GenbenchError
from genbench.metrics import Metric, Output, register_metric

SEED = 1337  # nanoGPT's torch.manual_seed: the windows' stream when no scoring stream is given
CHUNK = 512  # windows per forward pass over all of them


def val_windows(stream: torch.Tensor, length: int, eval_iters: int, batch_size: int,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """(eval_iters, batch_size, length) windows of `stream` at uniform random starts, as get_batch
    draws them (with replacement, any start whose window fits)."""
    g = generator if generator is not None else torch.Generator().manual_seed(SEED)
    starts = torch.randint(len(stream) - length + 1, (eval_iters, batch_size), generator=g, device=g.device).cpu()
    return stream[starts[..., None] + torch.arange(length)]


def window_losses(model, windows: torch.Tensor, device) -> torch.Tensor:
    """Each window's mean cross-entropy over its predicted characters (all but the first)."""
    out = []
    for x in windows.split(CHUNK):
        x = x.to(device)
        logits = model.next_logits(x)[:, 1:].float()
        out.append(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1),
                                   reduction="none").view(len(x), -1).mean(1).double().cpu())
    return torch.cat(out)


@register_metric
class ValLoss(Metric):
    name = "val-loss"
    needs_log_prob = True
    uses_generator = True
    outputs = (
        Output("val_loss", "lower", "nanoGPT's validation loss: mean cross-entropy on random test windows, "
                                    "nats per character", 0.01, 0.005, unit="nats per character"),
        Output("val_loss_all", "lower", "the mean that val_loss estimates: nanoGPT's validation loss over every "
                                        "window of the test stream, nats per character", 0.01, 0.005, unit="nats per character"),
    )

    def __init__(self, eval_iters: int = 200, eval_batch_size: int = 64,  # nanoGPT's shakespeare-char config
                 eval_every: int = 1):
        self.eval_iters, self.eval_batch_size, self.eval_every = eval_iters, eval_batch_size, eval_every

    def applies(self, dataset: Dataset) -> str | None:
        if not_text(dataset):
            return not_text(dataset)
        return None if dataset.stream else f"dataset {dataset.name!r}'s test rows are not windows of one text"

    @torch.no_grad()
    def compute(self, samples, reference: Dataset, model=None, generator: torch.Generator | None = None
                ) -> dict[str, float]:
        if model is None or not hasattr(model, "next_logits"):
            raise GenbenchError("metric 'val-loss' needs an autoregressive model's next-token logits "
                                "(score a --checkpoint)")
        T = reference.test.shape[1]
        stream = reference.test.reshape(-1)
        batches = val_windows(stream, T, self.eval_iters, self.eval_batch_size, generator)
        training = model.training
        model.eval()
        device = next(iter(model.parameters()), torch.empty(0)).device
        try:
            # nanoGPT's mean of eval_iters batch means (equal batches, so the mean of all windows drawn)
            loss = window_losses(model, batches.reshape(-1, T), device).mean().item()
            every = window_losses(model, stream.unfold(0, T, self.eval_every), device).mean().item()
        finally:
            model.train(training)
        if not (math.isfinite(loss) and math.isfinite(every)):
            raise GenbenchError("metric 'val-loss': the model's loss on the validation windows is not finite")
        return {"val_loss": loss, "val_loss_all": every}
