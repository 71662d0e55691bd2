"""Benchmark of the text-to-image pipeline: training throughput (images/s) of one GAN-INT-CLS step at 64×64
and 32×32, and the time to generate 64 images after loading a saved model.

The step is timed as ``kzoo train t2i`` runs it with a frozen text encoder (the captions' embeddings looked up,
:mod:`gan.caption_embeddings`) and, interleaved in the same run, with the char-RNN encoder inside the step on
96-character tokens (what a jointly trained encoder costs); the table gives their ratio.

    python bench/t2i.py [--batch-size 64] [--steps 20] [--ngf 64] [--ndf 64]

Prints a Markdown table. Timings are medians over the timed steps, after warm-up steps that include tracing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def measure(image_size, batch_size, steps, ngf, ndf, warmup=3):
    import numpy as np
    import tensorflow as tf

    from gan.generate import load_t2i
    from gan.train import T2IConfig, build_gan, build_image_encoder, build_text_encoder

    config = T2IConfig(image_size=image_size, batch_size=batch_size, ngf=ngf, ndf=ndf)
    encoder = build_text_encoder(config)
    # an untrained image encoder: the matching term costs the same as with a pretrained one
    model = build_gan(config, encoder, build_image_encoder(config, encoder))
    rng = np.random.default_rng(0)
    ids = tf.constant(model.vocab.encode(["a small red circle in the top left"] * batch_size, config.max_length))
    image = tf.constant(rng.uniform(-1, 1, (batch_size, image_size, image_size, 3)), tf.float32)
    # `kzoo train t2i` feeds the frozen encoder's rows (gan.caption_embeddings); the tokens are the jointly
    # trained encoder's input, and what the step cost before the rows were cached.
    batches = {"embedding": {"image": image, "text_embedding": encoder(ids, training=False)},
               "ids": {"image": image, "text_ids": ids}}
    step = tf.function(model.train_step)
    times = {kind: [] for kind in batches}
    for index in range(warmup + steps):
        for kind, batch in batches.items():  # interleaved, so machine noise hits both alike
            started = time.perf_counter()
            result = step(batch)
            float(result["d_loss"])
            if index >= warmup:
                times[kind].append(time.perf_counter() - started)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        model.save(path)
        loaded = load_t2i(path)
        loaded.generate(["warm up"], n=1)
        started = time.perf_counter()
        loaded.generate(["a small red circle in the top left"] * 8, n=8)
        generate_seconds = time.perf_counter() - started
    step_seconds = statistics.median(times["embedding"])
    return {"image_size": image_size, "step_ms": 1000 * step_seconds, "images_per_second": batch_size / step_seconds,
            "ids_step_ms": 1000 * statistics.median(times["ids"]), "generate_64_s": generate_seconds,
            "params": model.count_params()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--ngf", type=int, default=64)
    parser.add_argument("--ndf", type=int, default=64)
    args = parser.parse_args(argv)
    rows = [measure(size, args.batch_size, args.steps, args.ngf, args.ndf) for size in (64, 32)]
    print("| image | params | train step ms | images/s | step ms on tokens (encoder in the step) | "
          "generate 64 images after load (s) |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['image_size']}x{row['image_size']} | {row['params']:,} | {row['step_ms']:.0f} | "
              f"{row['images_per_second']:.1f} | {row['ids_step_ms']:.0f} ({row['ids_step_ms'] / row['step_ms']:.2f}x) "
              f"| {row['generate_64_s']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
