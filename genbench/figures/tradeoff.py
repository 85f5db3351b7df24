"""The quality-diversity trade-off of a text model: BLEU against Self-BLEU as the sampling
temperature sweeps (Caccia et al. 2020, "Language GANs falling short", use the same curve).

Lower temperature sharpens every conditional, so samples get more typical (BLEU up) and more alike
(Self-BLEU up). One model is a curve, not a point; comparing models at a single temperature can
rank them either way. Real text from the training split is drawn as a reference point.
"""

from __future__ import annotations

import io

import torch

from genbench.data import Dataset
from genbench.data.text import segments
from genbench.metrics.bleu import self_bleus, sentence_bleus
from genbench.scoring import draw_samples

TEMPERATURES = (0.5, 0.7, 0.85, 1.0, 1.2, 1.5)
SAMPLES = 300
ORDER = 4


def quality_diversity(texts: list[str], references: list[str], order: int = ORDER) -> tuple[float, float]:
    """(BLEU-n against the references, Self-BLEU-n) of a list of texts."""
    return float(sentence_bleus(texts, references, order).mean()), float(self_bleus(texts, order).mean())


def sweep(model, dataset: Dataset, temperatures=TEMPERATURES, n: int = SAMPLES, order: int = ORDER,
          seed: int = 0, device: torch.device | str = "cpu") -> list[dict]:
    """BLEU-n and Self-BLEU-n of n samples at each temperature, the same draws at each."""
    refs = segments(dataset.test, dataset.vocab)
    rows = []
    for t in temperatures:
        x = draw_samples(model, n, torch.Generator(device=device).manual_seed(seed), progress=False, temperature=t)
        bleu, self_bleu = quality_diversity(segments(x, dataset.vocab), refs, order)
        rows.append({"temperature": t, "bleu": bleu, "self_bleu": self_bleu})
    return rows


def tradeoff_figure(rows: list[dict], real: tuple[float, float], title: str, order: int = ORDER) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4), dpi=100)
    xs, ys = [r["self_bleu"] for r in rows], [r["bleu"] for r in rows]
    ax.plot(xs, ys, "o-", c="#1f77b4", label="samples")
    for r in rows:
        ax.annotate(f"T={r['temperature']:g}", (r["self_bleu"], r["bleu"]), fontsize=7, xytext=(4, 2),
                    textcoords="offset points")
    ax.plot([real[1]], [real[0]], "*", c="red", ms=10, label="training text")
    ax.set_xlabel(f"Self-BLEU-{order} (lower = more diverse)")
    ax.set_ylabel(f"BLEU-{order} vs held-out (higher = better quality)")
    ax.legend(loc="lower right", fontsize=7)
    ax.set_title(title, fontsize=8)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def real_point(dataset: Dataset, n: int = SAMPLES, order: int = ORDER) -> tuple[float, float]:
    """(BLEU-n, Self-BLEU-n) of n segments of the training text: where real text sits on the curve."""
    train = dataset.train[torch.randperm(len(dataset.train), generator=torch.Generator().manual_seed(0))[:n]]
    return quality_diversity(segments(train, dataset.vocab), segments(dataset.test, dataset.vocab), order)


def sweep_figure(sweep: dict) -> bytes:
    """The curve of a run's sweep data (as genbench.artefacts.read_sweep reads it)."""
    return tradeoff_figure(sweep["sweep"], sweep["real"], f"{sweep['title']}: temperature sweep")
