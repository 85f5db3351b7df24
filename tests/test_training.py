"""The shared trainer with a gradient-trained model: the loss goes down, the seed fixes the result."""

import math

import torch

from genbench.data import load_dataset
from genbench.models.neural import NeuralModel, lr_factor
from genbench.training import TrainConfig, fit


class DiagonalGaussian(NeuralModel):
    """The smallest neural density: a learnt mean and log-std, trained by maximum likelihood."""

    name, family, has_log_prob = "test-gaussian", "test", True

    def __init__(self, data_shape):
        super().__init__(data_shape)
        self.mu = torch.nn.Parameter(torch.zeros(self.dim))
        self.log_sigma = torch.nn.Parameter(torch.zeros(self.dim))

    def log_prob(self, x):
        z = (x.reshape(len(x), -1) - self.mu) / self.log_sigma.exp()
        return (-0.5 * z**2 - self.log_sigma - 0.5 * math.log(2 * math.pi)).sum(1)

    def loss(self, batch, generator):
        return -self.log_prob(batch).mean()


def test_loss_decreases_and_reaches_the_mle():
    ds = load_dataset("grid25")
    model = DiagonalGaussian(ds.shape)
    info = fit(model, ds, TrainConfig(steps=400, batch_size=256, lr=0.05), torch.Generator().manual_seed(0),
               progress=False)
    assert info["steps"] == 400
    x = ds.train
    assert torch.allclose(model.mu.detach(), x.mean(0), atol=0.15)
    assert torch.allclose(model.log_sigma.exp().detach(), x.std(0), rtol=0.05)


def test_same_seed_same_weights():
    ds = load_dataset("ring8")
    runs = []
    for seed in (3, 3, 4):
        model = DiagonalGaussian(ds.shape)
        fit(model, ds, TrainConfig(steps=20, batch_size=64, lr=0.01, grad_clip=1.0), torch.Generator().manual_seed(seed),
            progress=False)
        runs.append(torch.cat([model.mu.detach(), model.log_sigma.detach()]))
    assert torch.equal(runs[0], runs[1]) and not torch.equal(runs[0], runs[2])


def test_learning_rate_schedule():
    f = lr_factor(TrainConfig(steps=110, warmup_steps=10, schedule="cosine"))
    assert f(0) == 0.1 and f(9) == 1.0 and f(10) == 1.0
    assert abs(f(60) - 0.5) < 1e-9 and f(110) < 1e-12
