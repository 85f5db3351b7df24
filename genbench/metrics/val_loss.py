"""nanoGPT's validation loss (Karpathy, nanoGPT, train.py `estimate_loss` and `get_batch`).

    for k in 1..eval_iters:   i_1..i_B ~ U{0, .., len(val) - block_size - 1}     (B = eval_batch_size)
        loss_k = mean over b, t of -log P(val[i_b + t] | val[i_b .. i_b + t - 1]),  t = 1..block_size
    val_loss = mean_k loss_k                                                     nats per character

on random windows of block_size + 1 characters of the validation stream, the model in eval mode
(no dropout). Here the stream is the test split's consecutive rows laid end to end (a dataset with
`stream`), a window is one row's length T = block_size + 1, and the window's first character is
given: an autoregressive model conditions it on BOS, and its own term (P(x_1 | BOS)) is left out, so
every term is one of nanoGPT's. The draws come from a fixed generator, so the number does not depend
on the run's seed; `eval_iters` x `eval_batch_size` windows make it an estimate of the mean over all
windows (genbench's `perplexity` scores every non-overlapping test row exactly instead).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from genbench.data import Dataset
from genbench.data.text import not_text
from genbench.errors import GenbenchError
from genbench.metrics import Metric, Output, register_metric

SEED = 1337  # nanoGPT's torch.manual_seed; fixed, so that runs are scored on the same windows


def val_windows(stream: torch.Tensor, length: int, eval_iters: int, batch_size: int) -> torch.Tensor:
    """(eval_iters, batch_size, length) windows of `stream` at uniform random starts, as get_batch
    draws them (with replacement, any start whose window fits)."""
    g = torch.Generator().manual_seed(SEED)
    starts = torch.randint(len(stream) - length + 1, (eval_iters, batch_size), generator=g)
    return stream[starts[..., None] + torch.arange(length)]


@register_metric
class ValLoss(Metric):
    name = "val-loss"
    needs_log_prob = True
    outputs = (
        Output("val_loss", "lower", "nanoGPT's validation loss: mean cross-entropy on random test windows, "
                                    "nats per character", 0.01, 0.005),
    )

    def __init__(self, eval_iters: int = 200, eval_batch_size: int = 64):  # nanoGPT's shakespeare-char config
        self.eval_iters, self.eval_batch_size = eval_iters, eval_batch_size

    def applies(self, dataset: Dataset) -> str | None:
        if not_text(dataset):
            return not_text(dataset)
        return None if dataset.stream else f"dataset {dataset.name!r}'s test rows are not windows of one text"

    @torch.no_grad()
    def compute(self, samples, reference: Dataset, model=None) -> dict[str, float]:
        if model is None or not hasattr(model, "next_logits"):
            raise GenbenchError("metric 'val-loss' needs an autoregressive model's next-token logits "
                                "(score a --checkpoint)")
        T = reference.test.shape[1]
        batches = val_windows(reference.test.reshape(-1), T, self.eval_iters, self.eval_batch_size)
        training = model.training
        model.eval()
        device = next(iter(model.parameters()), torch.empty(0)).device
        try:
            losses = []
            for x in batches.to(device):
                logits = model.next_logits(x)[:, 1:].float()
                losses.append(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1)).item())
        finally:
            model.train(training)
        loss = sum(losses) / len(losses)
        if not math.isfinite(loss):
            raise GenbenchError("metric 'val-loss': the model's loss on the validation windows is not finite")
        return {"val_loss": loss}
