"""Character-level LSTM language model trained with teacher forcing (Karpathy's char-rnn; Graves 2013).

    e_t = E[x_{t-1}]                 (x_0 = BOS)
    h_t = LSTM(h_{t-1}, e_t)         (`layers` stacked, `hidden` units, dropout between layers)
    P(x_t | x_<t) = softmax(W h_t + b)

Teacher forcing: the training loss feeds the true previous token at every step and minimises the
mean cross-entropy -1/(NT) sum log P(x_t | x_<t), all positions in one cuDNN/oneDNN call; sampling
feeds the model's own previous token one step at a time, carrying (h, c).
"""

from __future__ import annotations

import torch
from torch import nn

from genbench.models import register_model
from genbench.models.autoregressive import Autoregressive
from genbench.models.neural import NeuralModel
from genbench.registry import Count, Fraction, Natural, Positive


@register_model("lstm")
class CharLSTM(Autoregressive, NeuralModel):
    def __init__(self, data_shape, vocab: list[str], embedding: Count = 64, hidden: Count = 256, layers: Count = 2,
                 dropout: Fraction = 0.0, temperature: Positive = 1.0, top_k: Natural = 0):
        super().__init__(data_shape, vocab, temperature, top_k, embedding=embedding, hidden=hidden,
                         layers=layers, dropout=dropout)
        self.embed = nn.Embedding(self.V + 1, embedding)  # + BOS
        self.lstm = nn.LSTM(embedding, hidden, num_layers=layers, dropout=dropout if layers > 1 else 0.0,
                            batch_first=True)
        self.head = nn.Linear(hidden, self.V)

    def next_logits(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self.lstm(self.embed(self.inputs(x)))
        return self.head(h)

    def loss(self, batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return self.token_nll(batch)

    def start(self, n: int):
        return None  # nn.LSTM starts from zeros

    def step(self, state, token):
        h, state = self.lstm(self.embed(token[:, None]), state)
        return self.head(h[:, 0]), state
