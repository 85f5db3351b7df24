"""The oracle: synthetic text from a fixed random teacher LSTM (Texygen's oracle, Zhu et al. 2018).

The teacher is an LSTM language model whose weights are drawn once from N(0, 1) by `seed`
(Texygen's initialisation, which makes its conditionals far from uniform). Data are its own
samples, so the true probability of any sequence under the data distribution is known exactly:

    P(x) = prod_t softmax(W h_t + b)[x_t],   h_t = LSTM(h_{t-1}, E[x_{t-1}]),   x_0 = BOS

That is what `nll-oracle` needs: the teacher scores a model's samples (quality), while the model
scores held-out teacher data (coverage). Everything runs in float64.
"""

from __future__ import annotations

from typing import Annotated

import torch
from torch import nn

from genbench.data import DATASETS, Dataset
from genbench.registry import Count, Natural, Range


class TeacherLSTM(nn.Module):
    def __init__(self, vocab_size: int, hidden: int, length: int, seed: int):
        super().__init__()
        self.V, self.T = vocab_size, length
        self.embed = nn.Embedding(vocab_size + 1, hidden)  # the last row is BOS
        self.cell = nn.LSTMCell(hidden, hidden)
        self.out = nn.Linear(hidden, vocab_size)
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g))
        self.double().requires_grad_(False)

    def _start(self, n: int):
        zeros = torch.zeros(n, self.cell.hidden_size, dtype=torch.float64)
        return torch.full((n,), self.V, dtype=torch.int64), (zeros, zeros.clone())

    def _step(self, token: torch.Tensor, state):
        h, c = self.cell(self.embed(token), state)
        return torch.log_softmax(self.out(h), dim=-1), (h, c)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        token, state = self._start(n)
        out = []
        for _ in range(self.T):
            logp, state = self._step(token, state)
            token = torch.multinomial(logp.exp(), 1, generator=generator)[:, 0]
            out.append(token)
        return torch.stack(out, 1)

    @torch.no_grad()
    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log P(x) in nats for each row of token ids (N, T)."""
        x = x.long()
        token, state = self._start(len(x))
        total = torch.zeros(len(x), dtype=torch.float64)
        for t in range(x.shape[1]):
            logp, state = self._step(token, state)
            total += logp.gather(1, x[:, t:t + 1])[:, 0]
            token = x[:, t]
        return total

    @torch.no_grad()
    def entropy_rate(self, n: int, generator: torch.Generator) -> tuple[float, float]:
        """H(P)/T in nats per token, estimated as E_x[sum_t H(P(. | x_<t))]/T on n fresh samples.

        Each term is the exact entropy of one conditional (Rao-Blackwellised), so this does not go
        through log P(x) at all. Returns (estimate, standard error).
        """
        token, state = self._start(n)
        per_row = torch.zeros(n, dtype=torch.float64)
        for _ in range(self.T):
            logp, state = self._step(token, state)
            per_row += -(logp.exp() * logp).sum(1)
            token = torch.multinomial(logp.exp(), 1, generator=generator)[:, 0]
        per_row /= self.T
        return per_row.mean().item(), (per_row.std() / n**0.5).item()


@DATASETS.register("oracle")
def oracle(vocab_size: Annotated[int, Range(2)] = 200, length: Count = 20, hidden: Count = 32, n_train: Count = 10000,
           n_test: Count = 2000, seed: Natural = 0) -> Dataset:
    """Samples of a fixed random teacher LSTM (Texygen's oracle): exact data likelihood."""
    teacher = TeacherLSTM(vocab_size, hidden, length, seed)
    data = teacher.sample(n_train + n_test, torch.Generator().manual_seed(seed + 1))
    return Dataset(name="oracle", kind="text", train=data[:n_train], test=data[n_train:],
                   vocab=[f"w{i}" for i in range(vocab_size)], log_prob=teacher.log_prob,
                   description=f"samples of a random teacher LSTM (vocabulary {vocab_size}, length {length}, "
                               f"hidden {hidden}, seed {seed}): the data likelihood is exact",
                   params={"vocab_size": vocab_size, "length": length, "hidden": hidden, "n_train": n_train,
                           "n_test": n_test, "seed": seed})
