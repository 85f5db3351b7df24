"""A small causal Transformer language model, GPT-style (Radford et al. 2018/2019; after nanoGPT).

    z_0 = E[x_{<t}] + P[t]                                  token + learnt position embeddings
    z   = z + Attn(LN(z)),   z = z + MLP(LN(z))             `layers` pre-norm blocks
    P(x_t | x_<t) = softmax(W LN(z)_t)

    Attn(u) = concat_heads softmax(Q K^T / sqrt(d_head) + M) V,   M_ij = -inf for j > i (causal)
    MLP(u)  = W_2 GELU(W_1 u),  4x wider inside

Inputs are BOS, x_1 .. x_{T-1}, so position t sees only tokens before x_t and one forward pass
gives every conditional (teacher forcing). Sampling keeps each layer's keys and values (a KV cache)
so that each new token costs one position, not a pass over the whole prefix.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from genbench.models import register_model
from genbench.models.autoregressive import Autoregressive
from genbench.models.neural import NeuralModel


class CausalSelfAttention(nn.Module):
    def __init__(self, width: int, heads: int, dropout: float):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)

    def forward(self, u: torch.Tensor, cache: list | None = None) -> torch.Tensor:
        N, L, C = u.shape
        q, k, v = (t.view(N, L, self.heads, C // self.heads).transpose(1, 2) for t in self.qkv(u).split(C, dim=2))
        if cache is None:  # all positions at once, masked to the past
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                               dropout_p=self.dropout if self.training else 0.0)
        else:  # one new position attends to everything cached so far, itself included
            if cache:
                k, v = torch.cat([cache[0], k], 2), torch.cat([cache[1], v], 2)
            cache[:] = [k, v]
            y = F.scaled_dot_product_attention(q, k, v)
        return self.proj(y.transpose(1, 2).reshape(N, L, C))


class Block(nn.Module):
    def __init__(self, width: int, heads: int, dropout: float):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.attn = CausalSelfAttention(width, heads, dropout)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))
        self.drop = nn.Dropout(dropout)

    def forward(self, z: torch.Tensor, cache: list | None = None) -> torch.Tensor:
        z = z + self.drop(self.attn(self.ln1(z), cache))
        return z + self.drop(self.mlp(self.ln2(z)))


@register_model("transformer")
class CausalTransformer(Autoregressive, NeuralModel):
    def __init__(self, data_shape, vocab: list[str], layers: int = 4, width: int = 192, heads: int = 6,
                 dropout: float = 0.0, temperature: float = 1.0, top_k: int = 0):
        super().__init__(data_shape, vocab, temperature, top_k, layers=layers, width=width, heads=heads,
                         dropout=dropout)
        if width % heads:
            raise ValueError(f"width {width} must be a multiple of heads {heads}")
        self.token = nn.Embedding(self.V + 1, width)  # + BOS
        self.position = nn.Embedding(self.T, width)
        self.blocks = nn.ModuleList(Block(width, heads, dropout) for _ in range(layers))
        self.ln = nn.LayerNorm(width)
        self.head = nn.Linear(width, self.V, bias=False)
        self.drop = nn.Dropout(dropout)
        self.apply(self._init)
        for name, p in self.named_parameters():  # GPT-2: residual projections scaled by depth
            if name.endswith("proj.weight") or name.endswith("mlp.2.weight"):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * layers))

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear | nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def _logits(self, tokens: torch.Tensor, positions: torch.Tensor, caches: list | None = None) -> torch.Tensor:
        z = self.drop(self.token(tokens) + self.position(positions))
        for i, block in enumerate(self.blocks):
            z = block(z, None if caches is None else caches[i])
        return self.head(self.ln(z))

    def next_logits(self, x: torch.Tensor) -> torch.Tensor:
        return self._logits(self.inputs(x), torch.arange(x.shape[1], device=x.device))

    def loss(self, batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return self.token_nll(batch)

    def start(self, n: int):
        return {"t": 0, "caches": [[] for _ in self.blocks]}

    def step(self, state, token):
        t = torch.tensor([state["t"]], device=token.device)
        logits = self._logits(token[:, None], t, state["caches"])[:, 0]
        state["t"] += 1
        return logits, state
