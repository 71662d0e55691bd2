"""Benchmark: is the flowers102 input pipeline ever the bottleneck of text-to-image training?

Measured in one process, on Oxford-102 flowers (``102flowers.tgz``, ``imagelabels.mat``, ``setid.mat`` from
``../shared/data/oxford_flowers102`` or ``--data-dir``; the archive is extracted once into ``$KZOO_CACHE``):

1. the input pipeline alone, exactly what ``kzoo train t2i --dataset flowers102 --image-size 64`` feeds to ``fit``
   (:func:`gan.train.training_dataset`: decoded images held in memory at 76x76, Reed et al.'s random 64x64 crop and
   horizontal flip, a caption drawn afresh per example, tokenized by ``CharTokenizer``; batch 64): images/s over
   ``--batches`` batches after ``--warmup`` batches, and the one-off time to load (extract, decode) the split;
2. the training step, ``TextToImageGAN.train_step`` through ``fit`` on that pipeline with ``steps_per_epoch``, for
   each ``--ngf`` (ngf = ndf; 64 is Reed et al.'s size, 32 kzoo's default): the median epoch time over
   ``--epochs`` timed epochs divided by the steps, after one untimed epoch (tracing); and the same on one batch
   cached in memory, which a pipeline that costs nothing would give;
3. the peak resident memory of the process (``resource.getrusage``'s ``ru_maxrss``) after each stage.

It prints a Markdown table with pipeline images/s / training images/s (the target is >= 5: the pipeline uses at
most a fifth of the time of a step), and ``--json PATH`` keeps the figures and the environment.

    python bench/pipeline.py [--data-dir DIR] [--batches 200] [--steps 10] [--epochs 3] [--ngf 64,32] [--json PATH]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import time

from zoo.callbacks import epoch_timer

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

TARGET_RATIO = 5.0


def log(message):
    print(message, file=sys.stderr, flush=True)


def peak_rss_mib() -> float:
    """The process's peak resident set size so far, in MiB (``ru_maxrss`` is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def flowers_dir(data_dir):
    from pathlib import Path

    from zoo.data.paths import find_shared_data

    return Path(data_dir) if data_dir else find_shared_data("oxford_flowers102")


def measure_pipeline(config, batches: int, warmup: int) -> dict:
    """Images/s of :func:`gan.train.training_dataset` alone (nothing consumes the batches but the loop)."""
    from gan.data import flowers
    from gan.train import training_dataset
    from zoo.text import CharVocab

    archive = flowers_dir(config.data_dir) / "102flowers.tgz"
    cached = any(path.joinpath(".complete").is_file() for path in flowers.cache_root().glob("*"))
    started = time.perf_counter()
    dataset = training_dataset(config, CharVocab(), config.batch_size)
    load_seconds = time.perf_counter() - started
    iterator = iter(dataset)
    for _ in range(warmup):
        next(iterator)
    started = time.perf_counter()
    for _ in range(batches):
        batch = next(iterator)
    seconds = time.perf_counter() - started
    assert tuple(batch["image"].shape) == (config.batch_size, config.image_size, config.image_size, 3)
    assert tuple(batch["text_ids"].shape) == (config.batch_size, config.max_length)
    return {"stage": "pipeline", "archive": str(archive), "extraction_cached": cached,
            "load_seconds": load_seconds, "batches": batches, "batch_ms": 1000 * seconds / batches,
            "images_per_second": batches * config.batch_size / seconds, "peak_rss_mib": peak_rss_mib()}


def measure_training(config, steps: int, epochs: int, cached_batch: bool) -> dict:
    """Seconds per ``fit`` step (median epoch time / steps, after one untimed epoch) on the real pipeline or, with
    ``cached_batch``, on one batch of it repeated from memory."""
    import keras

    from gan.train import build_gan, build_image_encoder, build_text_encoder, training_dataset
    keras.utils.set_random_seed(config.seed)
    encoder = build_text_encoder(config)
    # an untrained image encoder: the matching term costs the same as with a pretrained one
    model = build_gan(config, encoder, build_image_encoder(config, encoder))
    dataset = training_dataset(config, model.vocab, config.batch_size)
    if cached_batch:
        dataset = dataset.take(1).cache().repeat()

    timer = epoch_timer()
    model.fit(dataset, epochs=1 + epochs, steps_per_epoch=steps, callbacks=[timer], shuffle=False, verbose=0)
    step = statistics.median(timer.seconds[1:]) / steps
    return {"stage": "train", "ngf": config.ngf, "ndf": config.ndf, "data": "one cached batch" if cached_batch
            else "pipeline", "steps": steps * epochs, "step_ms": 1000 * step,
            "images_per_second": config.batch_size / step, "params": int(model.count_params()),
            "peak_rss_mib": peak_rss_mib()}


def environment() -> dict:
    import keras
    import tensorflow as tf

    from zoo.version import __version__

    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"kzoo": __version__, "tensorflow": tf.__version__, "keras": keras.__version__,
            "python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "devices": [device.name for device in tf.config.list_physical_devices()], "load_average": load}


def run(args) -> dict:
    from gan.train import T2IConfig

    base = dict(dataset="flowers102", data_dir=str(flowers_dir(args.data_dir)), image_size=args.image_size,
                batch_size=args.batch_size, seed=args.seed)
    log(f"pipeline: {args.warmup} + {args.batches} batches of {args.batch_size} at {args.image_size}x{args.image_size}")
    pipeline = measure_pipeline(T2IConfig(**base), args.batches, args.warmup)
    log(f"  {pipeline['images_per_second']:.0f} images/s (load {pipeline['load_seconds']:.1f} s)")
    rows = []
    for ngf in args.ngf:
        config = T2IConfig(**base, ngf=ngf, ndf=ngf)
        for cached in (False, True):
            log(f"train ngf=ndf={ngf} on {'one cached batch' if cached else 'the pipeline'}: "
                f"{args.epochs} x {args.steps} steps after {args.steps} untimed")
            row = measure_training(config, args.steps, args.epochs, cached)
            row["pipeline_over_train"] = pipeline["images_per_second"] / row["images_per_second"]
            log(f"  {row['step_ms']:.0f} ms/step, {row['images_per_second']:.1f} images/s")
            rows.append(row)
    return {"pipeline": pipeline, "train": rows, "peak_rss_mib": peak_rss_mib(), "target_ratio": TARGET_RATIO,
            "environment": environment(), "arguments": vars(args)}


def format_table(result) -> str:
    pipeline = result["pipeline"]
    lines = [f"input pipeline alone: {pipeline['images_per_second']:,.0f} images/s "
             f"({pipeline['batch_ms']:.2f} ms per batch; loading the split took {pipeline['load_seconds']:.1f} s, "
             f"extraction {'cached' if pipeline['extraction_cached'] else 'included'})",
             "",
             "| ngf = ndf | training data | params | step ms | train images/s | pipeline / train | >= 5x |",
             "|---:|---|---:|---:|---:|---:|---|"]
    for row in result["train"]:
        ratio = row["pipeline_over_train"]
        lines.append(f"| {row['ngf']} | {row['data']} | {row['params']:,} | {row['step_ms']:.0f} | "
                     f"{row['images_per_second']:.1f} | {ratio:.0f}x | {'yes' if ratio >= TARGET_RATIO else 'NO'} |")
    lines += ["", f"peak RSS: {result['peak_rss_mib']:.0f} MiB (after the pipeline alone: "
                  f"{pipeline['peak_rss_mib']:.0f} MiB)"]
    return "\n".join(lines)


def positive_int_list(text):
    values = [int(part) for part in text.split(",") if part.strip()]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers, got {text!r}")
    return values


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", help="folder with the flowers102 files "
                                           "(default: ../shared/data/oxford_flowers102)")
    parser.add_argument("--image-size", type=int, default=64, choices=(32, 64))
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--batches", type=int, default=200, help="timed pipeline batches")
    parser.add_argument("--warmup", type=int, default=10, help="untimed pipeline batches first")
    parser.add_argument("--steps", type=int, default=10, help="training steps per epoch (the first epoch is untimed)")
    parser.add_argument("--epochs", type=int, default=3, help="timed training epochs")
    parser.add_argument("--ngf", type=positive_int_list, default=[64, 32], help="ngf = ndf values, comma-separated")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", metavar="PATH", help="also write the figures and the environment to this file")
    args = parser.parse_args(argv)
    result = run(args)
    print(format_table(result))
    if args.json:
        from zoo.io import write_json

        write_json(result, args.json)
        print(f"wrote {args.json}")
    worst = min(row["pipeline_over_train"] for row in result["train"])
    return 0 if worst >= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
