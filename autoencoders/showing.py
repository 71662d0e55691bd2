"""Pictures of a trained RBM or denoising autoencoder, each grid labelled with what its rows and columns are:
what ``kzoo sample rbm`` and ``kzoo reconstruct dae`` write."""

from __future__ import annotations

import os

import numpy as np

from zoo.images import image_format, labelled_grid, save_image

STARTS = ("noise", "test")


def sample_rbm(model_ref, output: str | os.PathLike = "rbm_samples.png", chains: int = 8, steps: int = 1000,
               snapshots: int = 8, start: str = "noise", data_dir=None, seed: int = 0) -> dict:
    """Run ``chains`` block-Gibbs chains of a Bernoulli RBM (a preset such as ``rbm-mnist``, a `kzoo train rbm`
    folder or a .keras file) for ``steps`` sweeps and write p(v|h) every ``steps // snapshots`` sweeps as a grid:
    one row per chain, one column per snapshot. Chains start from uniform noise (``start="noise"``) or from MNIST
    test digits (``"test"``, read from ``data_dir`` or the shared data folder). Returns what was written."""
    from autoencoders.training import gibbs_chain_snapshots
    from zoo.presets import load
    from zoo.validation import check_positive_ints

    check_positive_ints(chains=chains, steps=steps, snapshots=snapshots)
    if start not in STARTS:
        raise ValueError(f"start must be one of {', '.join(STARTS)}, got {start!r}")
    image_format(output)
    rbm = load(model_ref, kind="rbm")
    side = int(round(np.sqrt(rbm.n_visible)))
    if side * side != rbm.n_visible:
        raise ValueError(f"this RBM has {rbm.n_visible} visible units, not a square image; it cannot be drawn")
    rng = np.random.default_rng(seed)
    if start == "noise":
        v = (rng.random((chains, rbm.n_visible)) < 0.5).astype(np.float32)
        labels = [f"chain {i + 1}, from noise" for i in range(chains)]
    else:
        from autoencoders.data import load_images

        images, digits = load_images("mnist", data_dir, "test", None)
        pick = rng.choice(len(images), size=chains, replace=False)
        v = images[pick].reshape(chains, -1).astype(np.float32)
        labels = [f"chain {i + 1}, from a test {int(digits[j])}" for i, j in enumerate(pick)]
    every = max(1, steps // snapshots)
    frames = gibbs_chain_snapshots(rbm, chains, snapshots, every * snapshots, seed, start=v)
    images = np.concatenate([v[None], frames.reshape(snapshots, chains, -1)]).swapaxes(0, 1)
    images = images.reshape(chains, snapshots + 1, side, side)
    done = [every * index for index in range(snapshots + 1)]
    title = f"columns: Gibbs sweeps {', '.join(map(str, done))} (p(v|h) after each); rows: chains"
    save_image(labelled_grid(images, labels, title), output)
    return {"output": str(output), "chains": chains, "sweeps": done[-1]}


def reconstruct_dae(model_ref, output: str | os.PathLike = "reconstructions.png", n: int = 10, data_dir=None,
                    seed: int = 0) -> dict:
    """Corrupt ``n`` MNIST test digits with a denoising autoencoder's own corruption (a preset such as
    ``dae-mnist``, a `kzoo train autoencoder --kind denoising` folder or a .keras file) and restore them; write a
    grid with the rows clean, corrupted, restored and one column per digit. Returns the mean binary
    cross-entropy of the restored digits against the clean ones beside what was written."""
    from autoencoders.data import load_images
    from autoencoders.denoising import corrupt
    from zoo.presets import load
    from zoo.validation import check_positive_int

    check_positive_int(n, "n")
    image_format(output)
    model = load(model_ref, kind="dae")
    images, digits = load_images("mnist", data_dir, "test", None)
    pick = np.random.default_rng(seed).choice(len(images), size=n, replace=False)
    clean = images[pick].astype(np.float32)
    flat = clean.reshape(n, -1) if len(model.encoder.inputs[0].shape) == 2 else clean[..., None]
    noisy = np.asarray(corrupt(flat, model.corruption, model.level, seed=seed))
    restored = np.asarray(model.predict(noisy, verbose=0))
    eps = 1e-7
    bce = float(-np.mean(flat * np.log(np.clip(restored, eps, 1)) + (1 - flat) * np.log(np.clip(1 - restored, eps, 1))))
    grid = np.stack([part.reshape(n, 28, 28) for part in (flat, noisy, restored)])
    title = f"columns: {n} MNIST test digits ({', '.join(str(int(d)) for d in digits[pick])})"
    rows = ["clean", f"corrupted ({model.corruption} {model.level:g})", "restored"]
    save_image(labelled_grid(grid, rows, title), output)
    return {"output": str(output), "digits": n, "bce": bce}
