"""n-gram language model with interpolated Kneser-Ney smoothing (Kneser & Ney 1995; Chen & Goodman
1998, Sec. 3.5): the count-based, "probabilistic" family on text.

    P_k(w | h) = max(c_k(h w) - D_k, 0) / c_k(h)  +  D_k N1+(h .) / c_k(h) * P_{k-1}(w | h')
    P_0(w)     = 1 / V

h holds the last k-1 tokens (BOS-padded at the start of a row); h' drops its oldest token. At the
top order n, c_n is the raw count. Below it, c_k(h w) = N1+(. h w), the number of distinct tokens
seen right before h w (continuation count): a lower order only speaks when the longer context was
unseen, so it should predict how readily w appears in new contexts, not how often it appears.
c_k(h) = sum_w c_k(h w) and N1+(h .) is the number of distinct w seen after h; a context unseen at
level k passes P_{k-1} through unchanged. D_k = n1 / (n1 + 2 n2) from the level's counts of
counts (Ney, Essen & Kneser 1994) unless the recipe sets `discount`. Because 0 < D_k <= 1 and
every positive count is >= 1, each P_k sums to exactly 1 over the V tokens.

Training is counting, done in `initialize`; `train_step` only reports the training NLL. Tables are
sorted int64 codes of n-grams in base V+1 (tensors, so checkpoints stay safetensors), looked up
by binary search.
"""

from __future__ import annotations

from typing import Annotated

import torch

from genbench.models import register_model
from genbench.models.autoregressive import Autoregressive
from genbench.registry import Count, Natural, Positive, Range

Discount = Annotated[float, Range(0, 1, low_open=True)]  # 0 < D <= 1 keeps each P_k a distribution

QUERY_CHUNK = 8192  # contexts per table lookup


def lookup(keys: torch.Tensor, values: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
    """values[i] where keys[i] == query (keys sorted), 0 where the query is absent."""
    if len(keys) == 0:
        return torch.zeros(query.shape, dtype=values.dtype, device=query.device)
    i = torch.searchsorted(keys, query).clamp(max=len(keys) - 1)
    return torch.where(keys[i] == query, values[i], torch.zeros((), dtype=values.dtype, device=query.device))


@register_model("ngram")
class KneserNeyNgram(Autoregressive):
    family = "n-gram"

    def __init__(self, data_shape, vocab: list[str], order: Count = 5, discount: Discount | None = None,
                 temperature: Positive = 1.0, top_k: Natural = 0):
        super().__init__(data_shape, vocab, temperature, top_k, order=order, discount=discount)
        self.n, self.B = order, self.V + 1  # base of the codes: V tokens and BOS
        if self.B ** order >= 2**62:
            raise ValueError(f"order {order} with {self.V} tokens does not fit int64 n-gram codes")
        self.fixed_discount = discount
        self.register_buffer("discount", torch.zeros(order, dtype=torch.float64))
        for k in range(1, order + 1):
            for name, dtype in (("keys", torch.int64), ("counts", torch.float64), ("ctx", torch.int64),
                                ("ctx_total", torch.float64), ("ctx_types", torch.float64)):
                self.register_buffer(f"{name}{k}", torch.zeros(0, dtype=dtype))
        self._counted = False

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        for name in list(self._buffers):  # tables are data-sized: take the checkpoint's sizes
            if prefix + name in state_dict:
                self._buffers[name] = torch.empty_like(state_dict[prefix + name], device=self.discount.device)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def check_state(self) -> None:
        if not ((self.discount > 0) & (self.discount <= 1)).all():
            raise ValueError(f"discounts must be in (0, 1], got {self.discount.tolist()}")

    def _table(self, k: int, name: str) -> torch.Tensor:
        return getattr(self, f"{name}{k}")

    def _encode(self, symbols: torch.Tensor) -> torch.Tensor:
        """Base-(V+1) code of the last dimension's tokens (an empty context codes as 0)."""
        code = torch.zeros(symbols.shape[:-1], dtype=torch.int64, device=symbols.device)
        for j in range(symbols.shape[-1]):
            code = code * self.B + symbols[..., j]
        return code

    def _contexts(self, x: torch.Tensor) -> torch.Tensor:
        """The n-1 tokens before each position, BOS-padded: (N, T) -> (N, T, n-1)."""
        if self.n == 1:
            return x.new_zeros(*x.shape, 0)
        padded = torch.cat([torch.full((len(x), self.n - 1), self.BOS, dtype=torch.int64, device=x.device), x], 1)
        return padded.unfold(1, self.n - 1, 1)[:, : x.shape[1]]

    # -- counting ------------------------------------------------------------------------------
    @torch.no_grad()
    def initialize(self, data: torch.Tensor, generator: torch.Generator) -> None:
        x = data.long()
        grams = torch.cat([self._contexts(x), x[:, :, None]], dim=2).reshape(-1, self.n)
        keys, counts = torch.unique(self._encode(grams), return_counts=True)  # c_n(h w)
        for k in range(self.n, 0, -1):
            if k < self.n:  # N1+(. h w): distinct (k+1)-grams ending in h w
                keys, counts = torch.unique(keys % self.B**k, return_counts=True)
            counts = counts.double()
            ctx, types = torch.unique_consecutive(keys // self.B, return_counts=True)
            total = torch.zeros(len(ctx), dtype=torch.float64, device=x.device)
            total.index_add_(0, torch.repeat_interleave(torch.arange(len(ctx), device=x.device), types), counts)
            n1, n2 = (counts == 1).sum().item(), (counts == 2).sum().item()
            d = self.fixed_discount or (n1 / (n1 + 2 * n2) if n1 > 0 and n2 > 0 else 0.5)
            self.discount[k - 1] = d
            for name, value in (("keys", keys), ("counts", counts), ("ctx", ctx), ("ctx_total", total),
                                ("ctx_types", types.double())):
                self._buffers[f"{name}{k}"] = value
        self._counted = True

    def train_step(self, batch: torch.Tensor, generator: torch.Generator) -> dict[str, float]:
        with torch.no_grad():
            return {"loss": self.token_nll(batch).item()}

    @property
    def converged(self) -> bool:
        return self._counted

    # -- the interpolated distribution ---------------------------------------------------------
    def distribution(self, contexts: torch.Tensor) -> torch.Tensor:
        """P(. | h) for contexts (M, n-1): (M, V), float64, each row summing to 1."""
        out = []
        w = torch.arange(self.V, device=contexts.device)
        for h in contexts.long().split(QUERY_CHUNK):
            p = torch.full((len(h), self.V), 1.0 / self.V, dtype=torch.float64, device=h.device)
            for k in range(1, self.n + 1):
                hc = self._encode(h[:, self.n - k:])  # the last k-1 tokens
                total = lookup(self._table(k, "ctx"), self._table(k, "ctx_total"), hc)[:, None]
                types = lookup(self._table(k, "ctx"), self._table(k, "ctx_types"), hc)[:, None]
                c = lookup(self._table(k, "keys"), self._table(k, "counts"), hc[:, None] * self.B + w)
                d = self.discount[k - 1]
                p_k = ((c - d).clamp(min=0) + d * types * p) / total.clamp(min=1)
                p = torch.where(total > 0, p_k, p)
            out.append(p)
        return torch.cat(out)

    def next_logits(self, x: torch.Tensor) -> torch.Tensor:
        ctx = self._contexts(x.long())
        return self.distribution(ctx.reshape(x.numel(), self.n - 1)).log().reshape(*x.shape, self.V)

    def start(self, n: int):
        return torch.full((n, self.n - 1), self.BOS, dtype=torch.int64, device=self.discount.device)

    def step(self, state, token):
        state = torch.cat([state, token[:, None]], 1)[:, 1:]
        return self.distribution(state).log(), state
