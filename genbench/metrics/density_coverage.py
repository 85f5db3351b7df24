"""Density and coverage (Naeem et al., 2020), on the same features as FID.

With r_i the distance from real point i to its k-th nearest real neighbour:
    density  = 1/(k M) sum_j sum_i 1[ ||y_j - x_i|| <= r_i ]     (can exceed 1)
    coverage = 1/N sum_i 1[ exists j: ||y_j - x_i|| <= r_i ]
over N real and M generated points. Coverage is robust to outliers in the samples, density
rewards samples in dense regions of the real data.
"""

from __future__ import annotations

import torch

from genbench.metrics import Output, register_metric
from genbench.metrics.fidelity import MIN_ROWS, ImageMetric, check_features, neighbour_reference

K = 5
BATCH = 2048


def kth_neighbour_radii(real: torch.Tensor, k: int) -> torch.Tensor:
    radii = []
    for chunk in real.split(BATCH):
        radii.append(torch.cdist(chunk, real).kthvalue(k + 1, dim=1).values)  # +1: the point itself
    return torch.cat(radii)


def density_coverage(gen: torch.Tensor, real: torch.Tensor, k: int = K) -> tuple[float, float]:
    check_features(gen, real, "density-coverage", max(MIN_ROWS, k + 1))
    gen, real = gen.double(), real.double()
    radii = kth_neighbour_radii(real, k)
    inside_count = torch.zeros(len(real), dtype=torch.float64)
    for chunk in gen.split(BATCH):
        inside_count += (torch.cdist(chunk, real) <= radii).sum(0)
    density = inside_count.sum().item() / (k * len(gen))
    coverage = (inside_count > 0).double().mean().item()
    return density, coverage


@register_metric
class DensityCoverage(ImageMetric):
    name = "density-coverage"
    outputs = (
        Output("density", "higher", "samples' density inside real 5-NN balls (Naeem 2020; ~1 for real data)", 0.02, unit="ratio (about 1 for real data, unbounded)"),
        Output("coverage", "higher", "fraction of real 5-NN balls holding a sample (Naeem 2020)", 0.02, unit="fraction of real points, 0-1"),
    )

    def from_features(self, gen, ref):
        d, c = density_coverage(gen["features"].float(), neighbour_reference(ref["features"]).float())
        return {"density": d, "coverage": c}
