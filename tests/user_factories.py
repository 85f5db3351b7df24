"""Factories as a user's own package defines them, for `genbench score --factory` tests
(imported by the CLI as `tests.user_factories:NAME`)."""

import numpy as np
import torch
from torch_fidelity import GenerativeModelModuleWrapper


def ring(radius: float = 1.0, std: float = 0.01):
    """A callable (n, generator) -> (n, 2): ring8's mixture, scaled by `radius`."""
    def sample(n, generator):
        angle = torch.randint(0, 8, (n,), generator=generator, device=generator.device) * (2 * torch.pi / 8)
        noise = torch.randn(n, 2, generator=generator, device=generator.device)
        return radius * torch.stack([angle.cos(), angle.sin()], 1) + std * noise

    return sample


class Ring(torch.nn.Module):
    """An nn.Module with sample(n, generator): genbench's own model protocol."""

    def __init__(self, radius: float = 1.0):
        super().__init__()
        self.radius = torch.nn.Parameter(torch.tensor(radius))

    def sample(self, n, generator):
        assert not self.training  # genbench samples in eval mode
        return ring(self.radius.item())(n, generator)


class Decoder(torch.nn.Module):
    """z -> uint8 8x8 grey images, as torch-fidelity's generative models return them."""

    def __init__(self, z_size: int = 16):
        super().__init__()
        self.net = torch.nn.Linear(z_size, 64)
        with torch.no_grad():
            self.net.weight.copy_(torch.randn(64, z_size, generator=torch.Generator().manual_seed(0)) / 4)
            self.net.bias.zero_()

    def forward(self, z):
        return (torch.sigmoid(self.net(z)) * 255).to(torch.uint8).view(-1, 1, 8, 8)


def digits_wrapper(z_size: int = 16):
    return GenerativeModelModuleWrapper(Decoder(z_size), z_size, "normal", 0)


def bare_module():
    return Decoder()


def wrong_shape():
    return lambda n, g: torch.zeros(n, 3)


def nan():
    return lambda n, g: torch.where(torch.arange(n)[:, None] == 7, float("nan"), torch.zeros(n, 2))


def wrong_count():
    return lambda n, g: torch.zeros(5, 2)


def not_a_tensor():
    return lambda n, g: [[0.0, 0.0]] * n


def numpy_array():
    return lambda n, g: np.zeros((n, 2), np.float32)


def fails():
    return lambda n, g: 1 / 0


NOT_CALLABLE = 3


def object_array():
    return lambda n, g: np.array([object()] * n)


def exits():
    """A factory that ends the process instead of returning a model."""
    import sys

    sys.exit(0)


def exits_while_sampling():
    def sample(n, g):
        raise SystemExit(3)

    return sample


def interrupted():
    raise KeyboardInterrupt
