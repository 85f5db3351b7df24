"""A small causal Transformer language model, GPT-style (Radford et al. 2018/2019; after nanoGPT).

    z_0 = E[x_{<t}] + P[t]                                  token + learnt position embeddings
    z   = z + Attn(LN(z)),   z = z + MLP(LN(z))             `layers` pre-norm blocks
    P(x_t | x_<t) = softmax(W LN(z)_t)

    Attn(u) = concat_heads softmax(Q K^T / sqrt(d_head) + M) V,   M_ij = -inf for j > i (causal)
    MLP(u)  = W_2 GELU(W_1 u),  4x wider inside

Two options from later GPTs: `positions = "rotary"` (RoFormer, Su et al. 2021) drops P and rotates
each query and key by an angle proportional to its position, so Q_i . K_j depends on i - j only;
`activation = "relu2"` uses ReLU(.)^2 inside the MLP (Primer, So et al. 2021).
Two options named as nanoGPT names them (model.py): `bias = false` drops the biases of every linear
layer and LayerNorm (nanoGPT's default: "a bit better and faster"), and `tie_weights = true` reads
the output matrix W off the token embedding E (weight tying, Press & Wolf 2017), W = E[:V] (E's
extra row is BOS, which is never predicted). `bos = false` is nanoGPT's input: no BOS row, T - 1
positions (genbench.models.autoregressive says what the first token's probability is then).

Inputs are BOS, x_1 .. x_{T-1}, so position t sees only tokens before x_t and one forward pass
gives every conditional (teacher forcing). Sampling keeps each layer's keys and values (a KV cache)
so that each new token costs one position, not a pass over the whole prefix.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from genbench.models import register_model
from genbench.models.autoregressive import Autoregressive
from genbench.models.neural import NeuralModel
from genbench.registry import Count, Fraction, Natural, Positive


def rotate(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """RoPE: rotate pairs (x_i, x_{i+d/2}) of each head by angle t * 10000^(-2i/d), t the position."""
    half = x.shape[-1] // 2
    angle = t[:, None].float() * 10000.0 ** (-torch.arange(half, device=x.device) / half)  # (L, d/2)
    cos, sin = angle.cos(), angle.sin()
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


class ReLU2(nn.Module):
    def forward(self, x):
        return torch.relu(x).square()


class CausalSelfAttention(nn.Module):
    def __init__(self, width: int, heads: int, dropout: float, rotary: bool = False, bias: bool = True):
        super().__init__()
        self.heads, self.dropout, self.rotary = heads, dropout, rotary
        self.qkv = nn.Linear(width, 3 * width, bias=bias)
        self.proj = nn.Linear(width, width, bias=bias)

    def forward(self, u: torch.Tensor, t: torch.Tensor, cache: list | None = None) -> torch.Tensor:
        N, L, C = u.shape
        q, k, v = (x.view(N, L, self.heads, C // self.heads).transpose(1, 2) for x in self.qkv(u).split(C, dim=2))
        if self.rotary:
            q, k = rotate(q, t), rotate(k, t)  # cached keys are stored already rotated
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
    def __init__(self, width: int, heads: int, dropout: float, rotary: bool, activation: str, bias: bool = True):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(width, bias=bias), nn.LayerNorm(width, bias=bias)
        self.attn = CausalSelfAttention(width, heads, dropout, rotary, bias)
        act = ReLU2() if activation == "relu2" else nn.GELU()
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width, bias=bias), act, nn.Linear(4 * width, width, bias=bias))
        self.drop = nn.Dropout(dropout)

    def forward(self, z: torch.Tensor, t: torch.Tensor, cache: list | None = None) -> torch.Tensor:
        z = z + self.drop(self.attn(self.ln1(z), t, cache))
        return z + self.drop(self.mlp(self.ln2(z)))


@register_model("transformer")
class CausalTransformer(Autoregressive, NeuralModel):
    def __init__(self, data_shape, vocab: list[str], layers: Count = 4, width: Count = 192, heads: Count = 6,
                 dropout: Fraction = 0.0, positions: Literal["learned", "rotary"] = "learned",
                 activation: Literal["gelu", "relu2"] = "gelu", bias: bool = True, tie_weights: bool = False,
                 temperature: Positive = 1.0, top_k: Natural = 0, bos: bool = True):
        super().__init__(data_shape, vocab, temperature, top_k, layers=layers, width=width, heads=heads,
                         dropout=dropout, positions=positions, activation=activation, bias=bias,
                         tie_weights=tie_weights, **({} if bos else {"bos": False}))
        if width % heads or (positions == "rotary" and (width // heads) % 2):
            raise ValueError(f"width {width} must be a multiple of heads {heads} (of 2 x heads with rotary positions)")
        self.token = nn.Embedding(self.V + self.bos, width)  # + BOS
        self.position = nn.Embedding(self.T - (not self.bos), width) if positions == "learned" else None
        self.blocks = nn.ModuleList(Block(width, heads, dropout, positions == "rotary", activation, bias)
                                    for _ in range(layers))
        self.ln = nn.LayerNorm(width, bias=bias)
        self.head = None if tie_weights else nn.Linear(width, self.V, bias=False)
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
        z = self.token(tokens) if self.position is None else self.token(tokens) + self.position(positions)
        z = self.drop(z)
        for i, block in enumerate(self.blocks):
            z = block(z, positions, None if caches is None else caches[i])
        z = self.ln(z)
        return F.linear(z, self.token.weight[:self.V]) if self.head is None else self.head(z)

    def next_logits(self, x: torch.Tensor) -> torch.Tensor:
        inputs = self.inputs(x)
        return self.with_first(self._logits(inputs, torch.arange(inputs.shape[1], device=x.device)))

    def loss(self, batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return self.token_nll(batch)

    def start(self, n: int):
        return {"t": 0, "caches": [[] for _ in self.blocks]}

    def step(self, state, token):
        t = torch.tensor([state["t"]], device=token.device)
        logits = self._logits(token[:, None], t, state["caches"])[:, 0]
        state["t"] += 1
        return logits, state
