"""Ablation of the text-to-image recipe on ``shapes`` at equal CPU time: which technique earns its place.

Each row is a set of :class:`gan.train.T2IConfig` settings over a base recipe (``matching``, kzoo's first); each
(row, seed) trains until its CPU budget is spent, counting the DS-SJE pretraining of the text encoder (run once per
text encoder and seed and shared by the rows that use it, its CPU time charged to each of them), then is evaluated
by ``kzoo evaluate t2i`` (:func:`gan.metrics.evaluate_t2i`) on the held-out captions.

    python bench/t2i_ablation.py [--rows ROW,...] [--seeds 0,1,2] [--budget-cpu-minutes 8] [--out runs/ablation]
    python bench/t2i_ablation.py --table [--out runs/ablation]

Every run goes in its own process; results are appended to ``OUT/results.jsonl`` and a rerun skips the (row, seed)
pairs already there, so an interrupted ablation continues. ``--table`` prints the Markdown table of bench/README.md
(mean and range over the seeds of every metric). CPU time is the process's user + system time (all threads), so
it is the same whether the run had the machine to itself or not; the wall time is given beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

BASE_RECIPE = "matching"  # every row's settings are given over this recipe
GAN_TECHNIQUES = {"loss": "hinge", "real_label": 1.0, "spectral_norm": True, "conditioning": "projection",
                  "augment": ["translation", "cutout"], "upsampling": "resize"}
ROWS = {
    "matching": {},
    "+hinge": {"loss": "hinge", "real_label": 1.0},
    "+spectral-norm": {"spectral_norm": True},
    "+projection": {"conditioning": "projection"},
    "+diffaugment": {"augment": ["translation", "cutout"]},
    "+resize-conv": {"upsampling": "resize"},
    "-ema": {"ema_decay": 0.0},
    "+birnn": {"text_encoder": "birnn"},
    "+mode-seeking": {"diversity_weight": 0.2},
    "+cnn": {"text_encoder": "cnn"},
    "+gan-techniques": GAN_TECHNIQUES,
    "+gan-techniques+cnn": {**GAN_TECHNIQUES, "text_encoder": "cnn"},
    "+cnn+mode-seeking": {"text_encoder": "cnn", "diversity_weight": 0.2},
    "+cnn-ema": {"text_encoder": "cnn", "ema_decay": 0.0},
    "charcnn": {"recipe": "charcnn"},
    "charcnn+mode-seeking-0.05": {"recipe": "charcnn", "diversity_weight": 0.05},
    "charcnn+mode-seeking-0.02": {"recipe": "charcnn", "diversity_weight": 0.02},
    "charcnn+mode-seeking-0.03": {"recipe": "charcnn", "diversity_weight": 0.03},
    "charcnn+resize-conv": {"recipe": "charcnn", "upsampling": "resize"},
    "reed2016": {"recipe": "reed2016"},
}
METRICS = ("shape", "colour", "size", "position", "all")


def cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


class CPUBudget:
    """A Keras callback that stops ``fit`` after the batch at which the process has used ``seconds`` of CPU."""

    def __new__(cls, seconds):
        import keras

        class _Budget(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.steps = 0

            def on_train_batch_end(self, batch, logs=None):
                self.steps += 1
                if cpu_seconds() >= seconds:
                    self.model.stop_training = True

        return _Budget()


def run_one(row: str, seed: int, budget_seconds: float, out: Path) -> dict:
    """Train and evaluate one (row, seed); return its result."""
    import keras

    from gan.metrics import evaluate_t2i
    from gan.train import T2IConfig, build_text_encoder, pretrain_text_encoder

    settings = {"recipe": BASE_RECIPE, **ROWS[row]}
    config = T2IConfig(seed=seed, epochs=1000, **settings)
    # The text encoder's DS-SJE pretraining: once per (encoder, seed), shared by the rows.
    encoders = out / "_encoders" / f"{config.text_encoder}{config.text_units}_{config.pretrain_steps}steps_seed{seed}"
    timing_path = encoders / "pretrain.json"
    if not timing_path.is_file():
        encoders.mkdir(parents=True, exist_ok=True)
        keras.utils.set_random_seed(seed)
        start_cpu, start_wall = cpu_seconds(), time.perf_counter()
        pretrain_text_encoder(config, build_text_encoder(config), encoders, verbose=0)
        timing_path.write_text(json.dumps({"cpu_seconds": cpu_seconds() - start_cpu,
                                           "wall_seconds": time.perf_counter() - start_wall}))
    pretrain = json.loads(timing_path.read_text())
    run_dir = out / row / f"seed{seed}"
    if run_dir.exists():
        shutil.rmtree(run_dir)  # an interrupted run starts over: its budget is measured in one process
    run_dir.mkdir(parents=True)
    for name in ("text_encoder.weights.h5", "image_encoder.weights.h5"):
        shutil.copyfile(encoders / name, run_dir / name)
    budget = CPUBudget(cpu_seconds() + budget_seconds - pretrain["cpu_seconds"])
    start_cpu, start_wall = cpu_seconds(), time.perf_counter()
    from gan.train import train_t2i

    metrics = train_t2i(config, run_dir, verbose=0, callbacks=[budget])
    gan_cpu, gan_wall = cpu_seconds() - start_cpu, time.perf_counter() - start_wall
    evaluation = evaluate_t2i(run_dir, seed=0)
    return {"row": row, "seed": seed, "settings": settings,
            "cpu_minutes": (pretrain["cpu_seconds"] + gan_cpu) / 60,
            "wall_minutes": (pretrain["wall_seconds"] + gan_wall) / 60,
            "gan_steps": budget.steps, "pretrain_steps": config.pretrain_steps,
            "images_per_second": metrics["images_per_second"], "stopped": metrics["stopped"],
            "attribute_accuracy": evaluation["attribute_accuracy"],
            "diversity_ratio": evaluation["diversity_ratio"]}


def table(results: list[dict]) -> str:
    """Markdown: one line per row, each metric's mean over the seeds and its range."""
    rows = {}
    for result in results:
        rows.setdefault(result["row"], []).append(result)
    lines = ["| row | seeds | CPU min | wall min | GAN steps | " + " | ".join(METRICS) + " | diversity |",
             "|---" * (len(METRICS) + 6) + "|"]

    def cell(values, digits=3):
        mean = sum(values) / len(values)
        if len(values) == 1:
            return f"{mean:.{digits}f}"
        return f"{mean:.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"

    for row in [name for name in ROWS if name in rows] + sorted(set(rows) - set(ROWS)):
        runs = rows[row]
        accuracy = [[run["attribute_accuracy"][name] for run in runs] for name in METRICS]
        lines.append(f"| {row} | {','.join(str(run['seed']) for run in runs)} | "
                     f"{cell([run['cpu_minutes'] for run in runs], 1)} | "
                     f"{cell([run['wall_minutes'] for run in runs], 1)} | "
                     f"{cell([run['gan_steps'] for run in runs], 0)} | "
                     + " | ".join(cell(values) for values in accuracy)
                     + f" | {cell([run['diversity_ratio'] for run in runs], 2)} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated rows out of {', '.join(ROWS)}")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    parser.add_argument("--budget-cpu-minutes", type=float, default=8.0,
                        help="CPU minutes (user + system, all threads) of each run, pretraining included")
    parser.add_argument("--out", default="runs/ablation", help="folder of the runs and results.jsonl")
    parser.add_argument("--table", action="store_true", help="print the table of the results so far and stop")
    parser.add_argument("--one", nargs=2, metavar=("ROW", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    out = Path(args.out)
    results_path = out / "results.jsonl"
    if args.one:
        result = run_one(args.one[0], int(args.one[1]), args.budget_cpu_minutes * 60, out)
        with results_path.open("a") as file:
            file.write(json.dumps(result) + "\n")
        return 0
    done = [json.loads(line) for line in results_path.read_text().splitlines()] if results_path.is_file() else []
    if args.table:
        print(table(done))
        return 0
    rows = [row.strip() for row in args.rows.split(",") if row.strip()]
    unknown = [row for row in rows if row not in ROWS]
    if unknown:
        parser.error(f"unknown rows {unknown}; choose from {', '.join(ROWS)}")
    seeds = [int(seed) for seed in args.seeds.split(",")]
    out.mkdir(parents=True, exist_ok=True)
    finished = {(result["row"], result["seed"]) for result in done}
    for seed in seeds:
        for row in rows:
            if (row, seed) in finished:
                continue
            print(f"== {row} seed {seed}", flush=True)
            started = time.perf_counter()
            subprocess.run([sys.executable, __file__, "--one", row, str(seed), "--out", str(out),
                            "--budget-cpu-minutes", str(args.budget_cpu_minutes)], check=True)
            print(f"== {row} seed {seed}: {time.perf_counter() - started:.0f} s", flush=True)
    results = [json.loads(line) for line in results_path.read_text().splitlines()]
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
