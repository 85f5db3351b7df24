"""Learning-curve plots: a recipe's metrics against the training step, one thin line per seed and
their mean, drawn from the run records' curves (genbench.curve) alone."""

from __future__ import annotations

import io

import numpy as np


def curve_figure(title: str, records: list[dict]) -> bytes | None:
    """The PNG of the curves the records hold (None when none holds one)."""
    curves = [(r["seed"], r["curve"]) for r in sorted(records, key=lambda r: r["seed"]) if r.get("curve")]
    if not curves:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = list(dict.fromkeys(k for _, c in curves for k in c["metrics"]))
    fig, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys), 2.8), dpi=100, squeeze=False)
    for ax, key in zip(axes[0], keys, strict=True):
        lines = []
        for seed, c in curves:
            values = np.array([np.nan if v is None else v for v in c["metrics"].get(key, [])], dtype=float)
            if len(values) != len(c["steps"]):
                continue
            ax.plot(c["steps"], values, lw=0.6, alpha=0.5, label=f"seed {seed}")
            lines.append((tuple(c["steps"]), values))
        if len(lines) > 1 and len({s for s, _ in lines}) == 1:  # the mean where the seeds share their steps
            ax.plot(lines[0][0], np.nanmean([v for _, v in lines], axis=0), c="black", lw=1.4, label="mean")
        ax.set_title(key, fontsize=8)
        ax.set_xlabel("step", fontsize=7)
        ax.tick_params(labelsize=6)
    fig.suptitle(title, fontsize=8)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()
