"""Benchmark: kzoo's BernoulliRBM against scikit-learn's, PCD-1 on binarised MNIST, measured in the same run.

Both optimise the same objective the same way: the same data (MNIST train images > 0.5, in file order, as
scikit-learn's ``fit`` does not shuffle; float32 for kzoo, float64 for scikit-learn, its native precision), 500
hidden units, batch 100, PCD-1 with persistent chains (one per batch row, starting at h = 0), the same update
ε·(batch-mean positive − chain-mean negative statistics) (scikit-learn's lr / batch_size · (pos − neg)), no
momentum, no weight decay, and the *same initial parameters*: kzoo's W ~ N(0, 0.01²) copied into scikit-learn,
hidden biases 0, visible biases either the data's log(p/(1−p)) (``--visible-bias data``, Hinton's advice and
kzoo's default) or 0 (``zeros``, scikit-learn's). scikit-learn is driven batch by batch through its own
``_fit`` (the inner loop of ``fit``) so that it can start from those parameters. kzoo is compiled with its
defaults (XLA and 32 steps per execution on one device). Epochs alternate between the two libraries (one
scikit-learn epoch runs in a callback at the end of each kzoo epoch, inside one ``fit``) so that load from other
processes, and the machine's stalls, hit both alike; the pair is trained once per ``--seeds`` value, since one
PCD run differs from another by about as much as the two libraries do.

Reported: seconds per epoch, the median and the fastest over all epochs of all seeds (kzoo's first epoch of each
seed includes tracing and XLA compilation and is reported apart); the test pseudo-log-likelihood of both models
by one estimator, both ways: scikit-learn's one-random-flip estimate on the whole test set (the same flipped unit
per example for both) and the exact
Σ_i log p(v_i|v_−i) on the first ``--exact-pll-limit`` test images; and the AIS test log-likelihood (nats) of
both models of the first seed with the same AIS run settings (base-rate model fit to the training data).

    python bench/rbm.py [--epochs 5] [--seeds 0 1 2] [--hidden 500] [--learning-rate 0.1]
                        [--visible-bias data] [--ais-betas 5000] [--json PATH]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402


def log(message):
    print(message, file=sys.stderr, flush=True)


def load(data_dir, limit):
    from autoencoders.data import load_images

    train = load_images("mnist", data_dir, "train", limit)[0]
    test = load_images("mnist", data_dir, "test", limit)[0]
    binary = [(images.reshape(len(images), -1) > 0.5).astype(np.float32) for images in (train, test)]
    return binary


def train_pair(x_train, epochs, hidden, batch_size, learning_rate, seed, visible_bias):
    """Train kzoo's and scikit-learn's RBM from the same initial parameters, epochs alternating; returns both
    models and the seconds of every epoch of each."""
    import keras
    import tensorflow as tf
    from sklearn.neural_network import BernoulliRBM as SkRBM

    from autoencoders.rbm import BernoulliRBM, base_rate_bias
    from zoo.seeding import set_seed

    set_seed(seed)
    kzoo = BernoulliRBM(x_train.shape[1], hidden, k=1, persistent=True, learning_rate=learning_rate, momentum=0.0,
                        initial_momentum=0.0, weight_decay=0.0, n_chains=batch_size, visible_bias_init="zeros",
                        seed=seed)
    if visible_bias == "data":
        kzoo.visible_bias.assign(base_rate_bias(x_train).astype(np.float32))
    kzoo.compile()  # the defaults a user gets: XLA and 32 steps per execution on one device
    # One pipeline for all epochs (repeated, with steps_per_epoch), as `kzoo train rbm` builds it
    # (zoo.data.order.epoch_dataset). A finite dataset makes fit start a new iterator every epoch, and after a
    # scikit-learn epoch in the callback that start stalled for 2.5-3.7 s (tf.data's autotuning; gone with
    # autotune disabled or with one iterator) in every second or third epoch, which the epoch timing took in.
    dataset = tf.data.Dataset.from_tensor_slices(x_train).batch(batch_size).cache().repeat()
    dataset = dataset.prefetch(tf.data.AUTOTUNE)
    steps_per_epoch = len(x_train) // batch_size
    sk = SkRBM(n_components=hidden, learning_rate=learning_rate, batch_size=batch_size, n_iter=1,
               random_state=seed)
    kernel, visible, hidden_bias = kzoo.weights_numpy()  # the same initial parameters for both
    sk.components_, sk.intercept_visible_, sk.intercept_hidden_ = kernel.T.copy(), visible.copy(), hidden_bias.copy()
    sk.h_samples_ = np.zeros((batch_size, hidden))
    sk.n_features_in_ = x_train.shape[1]
    sk_rng = np.random.RandomState(seed)
    x_sklearn = x_train.astype(np.float64)  # scikit-learn's native precision (its fit converts uint8 images so)
    batches = [x_sklearn[start:start + batch_size] for start in range(0, len(x_sklearn), batch_size)]

    times = {"kzoo": [], "sklearn": []}

    class Interleave(keras.callbacks.Callback):
        """Times each kzoo epoch from its start to its end, then runs one scikit-learn epoch (timed apart)."""

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times["kzoo"].append(time.perf_counter() - self.start)
            start = time.perf_counter()
            for batch in batches:  # the inner loop of sk.fit (fit itself would re-initialise the parameters)
                sk._fit(batch, sk_rng)
            times["sklearn"].append(time.perf_counter() - start)
            log(f"seed {seed} epoch {epoch + 1}: kzoo {times['kzoo'][-1]:.2f} s, "
                f"sklearn {times['sklearn'][-1]:.2f} s")

    # One fit for all epochs, as a user runs it: returning from fit waits for TensorFlow to tear the input
    # pipeline down, which on this machine took 0-2.5 s per call, so one call per epoch would time that too.
    kzoo.fit(dataset, epochs=epochs, steps_per_epoch=steps_per_epoch, verbose=0, callbacks=[Interleave()])
    return kzoo, sk, times


def run(epochs=5, hidden=500, batch_size=100, learning_rate=0.1, seeds=(0,), data_dir=None, limit=None,
        ais_betas=5000, ais_runs=100, visible_bias="data", exact_pll_limit=2000):
    import tensorflow as tf

    from autoencoders.partition import ais_log_partition
    from autoencoders.rbm import base_rate_bias, full_pseudo_log_likelihood

    x_train, x_test = load(data_dir, limit)
    n_batches = len(x_train) // batch_size
    x_train = x_train[:n_batches * batch_size]
    exact_rows = x_test[:exact_pll_limit].astype(np.float64)
    rows = {"kzoo": [], "sklearn": []}
    pll = {"kzoo": [], "sklearn": []}
    exact_pll = {"kzoo": [], "sklearn": []}
    models = None
    for seed in seeds:
        kzoo, sk, times = train_pair(x_train, epochs, hidden, batch_size, learning_rate, seed, visible_bias)
        # epoch 1 of kzoo includes tracing and XLA compilation: steady-state figures use epochs 2..
        rows["kzoo"].append(times["kzoo"])
        rows["sklearn"].append(times["sklearn"])
        sk_params = (sk.components_.T, sk.intercept_visible_, sk.intercept_hidden_)
        # scikit-learn's own score_samples flips unit RandomState(random_state).randint(0, V, n) of each row;
        # kzoo flips the same units
        indices = np.random.RandomState(seed).randint(0, x_test.shape[1], len(x_test))
        pll["kzoo"].append(float(kzoo.pseudo_log_likelihood(x_test, indices=indices).mean()))
        pll["sklearn"].append(float(sk.score_samples(x_test.astype(np.float64)).mean()))
        exact_pll["kzoo"].append(float(kzoo.full_pseudo_log_likelihood(exact_rows).mean()))
        exact_pll["sklearn"].append(float(full_pseudo_log_likelihood(exact_rows, *sk_params).mean()))
        log(f"seed {seed}: PLL kzoo {pll['kzoo'][-1]:.2f} sklearn {pll['sklearn'][-1]:.2f}; exact PLL kzoo "
            f"{exact_pll['kzoo'][-1]:.2f} sklearn {exact_pll['sklearn'][-1]:.2f}")
        if models is None:
            models = (kzoo, sk, sk_params)

    steady = {name: [t for times in runs for t in (times[1:] if name == "kzoo" and len(times) > 1 else times)]
              for name, runs in rows.items()}
    median = {name: statistics.median(times) for name, times in steady.items()}
    fastest = {name: min(times) for name, times in steady.items()}
    result = {
        "epochs": epochs, "hidden": hidden, "batch_size": batch_size, "learning_rate": learning_rate,
        "seeds": list(seeds), "train_examples": len(x_train), "test_examples": len(x_test),
        "seconds_per_epoch": rows, "kzoo_first_epoch_seconds": [times[0] for times in rows["kzoo"]],
        "median_seconds_per_epoch": median, "min_seconds_per_epoch": fastest,
        "speedup_median": median["sklearn"] / median["kzoo"], "speedup_min": fastest["sklearn"] / fastest["kzoo"],
        "visible_bias_init": visible_bias, "test_pseudo_log_likelihood": pll,
        "test_exact_pseudo_log_likelihood": dict(exact_pll, test_examples=len(exact_rows)),
    }
    if ais_betas:
        kzoo, sk, sk_params = models
        result["ais"] = {"n_betas": ais_betas, "n_runs": ais_runs, "seed": seeds[0]}
        free = {"kzoo": np.asarray(kzoo.free_energy(x_test), np.float64),
                "sklearn": sk._free_energy(x_test.astype(np.float64))}  # F(v), as kzoo's
        for name, params in (("kzoo", kzoo.weights_numpy()), ("sklearn", sk_params)):
            start = time.perf_counter()
            log_z, error = ais_log_partition(*params, n_betas=ais_betas, n_runs=ais_runs,
                                             base_visible_bias=base_rate_bias(x_train), seed=seeds[0])
            result["ais"][name] = {"log_partition": log_z, "standard_error": error,
                                   "seconds": time.perf_counter() - start,
                                   "test_log_likelihood": float(np.mean(-free[name]) - log_z)}
            log(f"AIS {name}: log Z {log_z:.2f} +- {error:.3f}")
    result["environment"] = {"python": platform.python_version(), "tensorflow": tf.__version__,
                             "cpus": os.cpu_count(), "machine": platform.machine()}
    return result


def _mean_sd(values):
    mean = statistics.fmean(values)
    return f"{mean:.2f} ± {statistics.stdev(values):.2f}" if len(values) > 1 else f"{mean:.2f}"


def format_report(result) -> str:
    median, fastest = result["median_seconds_per_epoch"], result["min_seconds_per_epoch"]
    pll, exact, ais = result["test_pseudo_log_likelihood"], result["test_exact_pseudo_log_likelihood"], \
        result.get("ais", {})
    seeds = len(result["seeds"])

    def ais_cell(name):
        if name not in ais:
            return "-"
        return f"{ais[name]['test_log_likelihood']:.2f} (log Z {ais[name]['log_partition']:.2f} ± " \
               f"{ais[name]['standard_error']:.3f})"

    difference = [k - s for k, s in zip(exact["kzoo"], exact["sklearn"])]
    flip_difference = [k - s for k, s in zip(pll["kzoo"], pll["sklearn"])]
    lines = [
        f"visible biases initialised: {result['visible_bias_init']}; {result['epochs']} epochs PCD-1, lr "
        f"{result['learning_rate']}, batch {result['batch_size']}, {result['hidden']} hidden; seeds "
        f"{result['seeds']} (PLL: mean ± sd over seeds)",
        "",
        f"| library | s/epoch median (min) | test PLL, 1 random flip ({result['test_examples']}) "
        f"| test PLL, exact ({exact['test_examples']}) | AIS test log-lik. (nats, seed {result['seeds'][0]}) |",
        "|---|---|---|---|---|",
        f"| sklearn.neural_network.BernoulliRBM | {median['sklearn']:.2f} ({fastest['sklearn']:.2f}) "
        f"| {_mean_sd(pll['sklearn'])} | {_mean_sd(exact['sklearn'])} | {ais_cell('sklearn')} |",
        f"| kzoo BernoulliRBM | {median['kzoo']:.2f} ({fastest['kzoo']:.2f}); first epoch "
        f"{statistics.median(result['kzoo_first_epoch_seconds']):.2f} | {_mean_sd(pll['kzoo'])} "
        f"| {_mean_sd(exact['kzoo'])} | {ais_cell('kzoo')} |",
        "",
        f"speed-up sklearn/kzoo: {result['speedup_median']:.2f}x by the medians, {result['speedup_min']:.2f}x by the "
        f"fastest epochs ({seeds} seed(s); kzoo's first epoch, with compilation, left out when there are more)",
        f"PLL difference kzoo - sklearn, per seed: exact {', '.join(f'{d:+.2f}' for d in difference)}; "
        f"random flip {', '.join(f'{d:+.2f}' for d in flip_difference)}",
    ]
    if ais:
        lines.append(f"AIS: {ais['n_betas']} betas, {ais['n_runs']} runs, base-rate model fit to the training data")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--hidden", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--learning-rate", type=float, default=0.1)
    parser.add_argument("--limit", type=int, default=None, help="first N images of each split")
    parser.add_argument("--data-dir", default=None, help="MNIST IDX folder (default: ../shared/data/mnist)")
    parser.add_argument("--ais-betas", type=int, default=5000, help="0 skips AIS")
    parser.add_argument("--ais-runs", type=int, default=100)
    parser.add_argument("--visible-bias", choices=("data", "zeros"), default="data",
                        help="initial visible biases of both models: the data's log-odds or 0")
    parser.add_argument("--exact-pll-limit", type=int, default=2000, help="test images for the exact PLL")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                        help="train both libraries once per seed (same initial parameters within a seed)")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    result = run(epochs=args.epochs, hidden=args.hidden, batch_size=args.batch_size, learning_rate=args.learning_rate,
                 seeds=tuple(args.seeds), data_dir=args.data_dir, limit=args.limit, ais_betas=args.ais_betas,
                 ais_runs=args.ais_runs, visible_bias=args.visible_bias, exact_pll_limit=args.exact_pll_limit)
    print(format_report(result))
    if args.json:
        from zoo.io import write_json

        write_json(result, args.json)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
