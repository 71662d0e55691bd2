"""``kzoo gradients``: ‖∂h_T/∂h_t‖ against distance for several cells, as a plot, a CSV and a table."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from zoo.gradients.experiments import CELL_FACTORIES, make_cell, random_inputs
from zoo.gradients.jacobians import decay_rate, jacobian_norms
from zoo.io import atomic_path, prepare_out_dir
from zoo.seeding import set_seed
from zoo.validation import check_positive_ints


def gradient_flow(cells=tuple(CELL_FACTORIES), steps: int = 100, units: int = 64, batch: int = 8,
                  features: int = 16, seed: int = 0) -> dict:
    """``{cell name: ‖∂h_T/∂h_t‖ for t = 0..T}`` on the same standard normal inputs for every cell."""
    check_positive_ints(steps=steps, units=units, batch=batch, features=features)
    set_seed(seed)
    inputs = random_inputs(batch, steps, features, seed)
    return {name: jacobian_norms(make_cell(name, units, seed), inputs) for name in cells}


def write_csv(results: dict, path) -> Path:
    """Columns: distance T−t, then one column of ‖∂h_T/∂h_t‖ per cell."""
    names = list(results)
    steps = len(next(iter(results.values()))) - 1
    with atomic_path(path) as temporary, open(temporary, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["distance", *names])
        for distance in range(steps + 1):
            writer.writerow([distance, *(f"{results[name][steps - distance]:.6e}" for name in names)])
    return Path(path)


def write_plot(results: dict, path, title: str = "Gradient flow through time") -> Path:
    """Log-scale ‖∂h_T/∂h_t‖ against T−t, one labelled line per cell (matplotlib, headless Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5))
    floor = np.finfo(np.float64).tiny
    for name, norms in results.items():
        distance = np.arange(len(norms))
        axes.semilogy(distance, np.maximum(norms[::-1], floor), label=f"{name} (×{decay_rate(norms):.3f}/step)")
    axes.set_xlabel("distance T − t (steps)")
    axes.set_ylabel("‖∂h_T / ∂h_t‖₂ (batch mean)")
    axes.set_title(title)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=120)
    plt.close(figure)
    return Path(path)


def format_table(results: dict) -> str:
    """A Markdown table: per-step decay factor (geometric fit) and the norm at the largest distance."""
    lines = ["| cell | decay per step | ‖∂h_T/∂h_0‖ | verdict |", "|---|---:|---:|---|"]
    for name, norms in results.items():
        rate = decay_rate(norms)
        verdict = "vanishes" if rate < 0.99 else "explodes" if rate > 1.01 else "preserved"
        lines.append(f"| {name} | {rate:.4f} | {norms[0]:.3e} | {verdict} |")
    return "\n".join(lines)


def run_gradient_flow(out_dir: str | os.PathLike, cells=tuple(CELL_FACTORIES), steps: int = 100,
                      units: int = 64, seed: int = 0) -> dict:
    """Measure :func:`gradient_flow`, write ``gradient_flow.png`` and ``gradient_flow.csv`` into ``out_dir``."""
    out = prepare_out_dir(out_dir)
    results = gradient_flow(cells, steps=steps, units=units, seed=seed)
    write_csv(results, out / "gradient_flow.csv")
    write_plot(results, out / "gradient_flow.png",
               title=f"Gradient flow through time ({units} units, {steps} steps, seed {seed})")
    return results
