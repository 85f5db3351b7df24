"""What every autoregressive text model shares: the chain rule, decoding, and its vocabulary.

    P(x_1..x_T) = prod_t P(x_t | x_<t),   x_0 = BOS (token id V, never emitted)

A family may drop BOS (`bos = false`, as nanoGPT's GPT has none: its windows start anywhere in the
text): then the network sees x_1 .. x_{T-1} and gives P(x_t | x_<t) for t >= 2 only, P(x_1) is the
training rows' first-token frequencies (add-one smoothed, fitted before the first step), and the
training loss averages the network's T - 1 terms alone, as nanoGPT's does.

A family gives its conditionals two ways: `next_logits(x)` scores every position of whole rows at
once (teacher forcing: inputs BOS, x_1..x_{T-1}; output (N, T, V)), and `start(n)` / `step(state,
token)` run one token at a time for sampling. Sampling divides the logits by `temperature` and keeps
only the `top_k` largest (0: all); `log_prob` scores rows under exactly that distribution, so at
temperature 1 without top-k it is the model's own likelihood and sum_x P(x) = 1 always holds.
The vocabulary is a hyper-parameter (filled in from the dataset), so a checkpoint knows its symbols.
"""

from __future__ import annotations

import torch

from genbench.models import GenerativeModel

CHUNK = 1024  # rows scored at once by log_prob


def sampling_log_probs(logits: torch.Tensor, temperature: float, top_k: int) -> torch.Tensor:
    """log of softmax(logits / temperature) restricted to the top_k largest logits (0: no limit)."""
    z = logits / temperature
    if 0 < top_k < z.shape[-1]:
        kth = torch.topk(z, top_k, dim=-1).values[..., -1:]
        z = z.masked_fill(z < kth, float("-inf"))
    return torch.log_softmax(z, dim=-1)


class Autoregressive(GenerativeModel):
    family = "autoregressive"
    has_log_prob = True

    def __init__(self, data_shape, vocab: list[str], temperature: float = 1.0, top_k: int = 0, **hparams):
        super().__init__(data_shape, vocab=list(vocab), temperature=temperature, top_k=top_k, **hparams)
        if len(self.data_shape) != 1:
            raise ValueError(f"{type(self).__name__} models sequences of shape (T,), not {self.data_shape}")
        self.vocab, self.V, self.T, self.BOS = list(vocab), len(vocab), self.data_shape[0], len(vocab)
        self.temperature, self.top_k = temperature, top_k
        self.bos = hparams.get("bos", True)
        if not self.bos:
            self.register_buffer("first", torch.zeros(self.V))  # log P(x_1)

    def initialize(self, data: torch.Tensor, generator: torch.Generator) -> None:
        if not self.bos:
            counts = torch.bincount(data[:, 0].long(), minlength=self.V).double() + 1
            self.first.copy_((counts / counts.sum()).log())

    # -- what a family implements --------------------------------------------------------------
    def next_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of P(x_t | x_<t) for every t of every row: (N, T) ids -> (N, T, V)."""
        raise NotImplementedError

    def start(self, n: int):
        """The state before the first token of n rows."""
        raise NotImplementedError

    def step(self, state, token: torch.Tensor) -> tuple[torch.Tensor, object]:
        """Feed one token per row (BOS first); returns the next-token logits (n, V) and the new state."""
        raise NotImplementedError

    # -- the chain rule ------------------------------------------------------------------------
    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        """What the network is fed under teacher forcing: BOS, x_1 .. x_{T-1} (x_1 .. x_{T-1} without BOS)."""
        if not self.bos:
            return x[:, :-1]
        return torch.cat([torch.full_like(x[:, :1], self.BOS), x[:, :-1]], dim=1)

    def with_first(self, logits: torch.Tensor) -> torch.Tensor:
        """The network's logits for inputs(x), as logits for every position: without BOS, position 1's
        are log P(x_1)."""
        if self.bos:
            return logits
        return torch.cat([self.first.to(logits.dtype).expand(len(logits), 1, -1), logits], dim=1)

    def token_nll(self, x: torch.Tensor) -> torch.Tensor:
        """Teacher-forced cross-entropy at temperature 1, mean over the network's terms: the training loss."""
        logits = self.next_logits(x.long())[:, 0 if self.bos else 1:]
        return torch.nn.functional.cross_entropy(logits.reshape(-1, self.V), x.long()[:, 0 if self.bos else 1:].reshape(-1))

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        out = []
        for chunk in x.long().split(CHUNK):
            logp = sampling_log_probs(self.next_logits(chunk).double(), self.temperature, self.top_k)
            out.append(logp.gather(2, chunk[:, :, None])[:, :, 0].sum(1))
        return torch.cat(out)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator, temperature: float | None = None) -> torch.Tensor:
        """`temperature`: this draw's (a sweep's); default the model's own."""
        device = generator.device
        temperature = self.temperature if temperature is None else temperature
        state = self.start(n)
        token = torch.full((n,), self.BOS, dtype=torch.int64, device=device)
        out = torch.empty(n, self.T, dtype=torch.int64, device=device)
        for t in range(self.T):
            if self.bos or t > 0:
                logits, state = self.step(state, token)
            else:
                logits = self.first.expand(n, -1)
            probs = sampling_log_probs(logits.double(), temperature, self.top_k).exp()
            token = torch.multinomial(probs, 1, generator=generator)[:, 0]
            out[:, t] = token
        return out
