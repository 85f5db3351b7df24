"""The domain classifier behind the offline image metrics: a small VGG-style CNN.

Its penultimate layer (`features`) plays the role Inception's pool3 plays for FID/KID/PR, and
its logits the role of Inception's logits for IS. Global pooling to 2x2 makes it size-agnostic
(8x8 digits, 28x28 Fashion-MNIST).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from genbench.registry import Count


class DomainCNN(nn.Module):
    def __init__(self, channels: Count = 1, width: Count = 32, features: Count = 128, classes: Count = 10):
        super().__init__()
        w = width
        self.config = {"channels": channels, "width": width, "features": features, "classes": classes}
        self.conv = nn.Sequential(
            nn.Conv2d(channels, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(),
            nn.Conv2d(w, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(),
            nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(),
        )
        self.fc = nn.Linear(2 * w * 4, features)
        self.head = nn.Linear(features, classes)

    def features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.conv((x - 0.5) / 0.5)
        h = F.adaptive_avg_pool2d(h, 2).flatten(1)
        f = F.relu(self.fc(h))
        return f, self.head(f)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features_and_logits(x)[1]
