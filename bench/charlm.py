"""Character LM on tiny-shakespeare: kzoo's fused LSTM against the same model built from keras.layers.LSTM.

Both models are Embedding → ``--layers`` × LSTM(``--units``) → Dense(vocab), trained with the same Adam,
data (first 90% of the text, windows of ``--seq-len``) and seed. Each trains for a wall-clock budget
(``--minutes`` for kzoo, ``--keras-minutes`` for Keras); every ``--eval-every`` steps the validation
loss (last 10%, nats/char) is logged against elapsed minutes. Throughput is training chars/s with the
evaluation time excluded. Target: ≤ 1.60 nats/char within 30 minutes on a 2-core CPU.

    python bench/charlm.py --minutes 30 --keras-minutes 10 --json /tmp/charlm.json
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from zoo.data import paths  # noqa: E402
from zoo.io import write_json
from zoo.seeding import set_seed
from zoo.text.language_model import CharLanguageModel, compile_charlm, read_text, split_text, text_ids, window_dataset  # noqa: E402
from zoo.text.vocab import CharVocab  # noqa: E402

TARGET = 1.60


def keras_lstm_lm(vocab, embedding_dim, units, layers, dropout):
    """The same architecture from Keras's own layers (keras.layers.LSTM, cuDNN-style fused op on TF)."""
    inputs = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(vocab.size, embedding_dim)(inputs)
    for _ in range(layers):
        x = keras.layers.Dropout(dropout)(keras.layers.LSTM(units, return_sequences=True)(x))
    return keras.Model(inputs, keras.layers.Dense(vocab.size)(x), name="keras_lstm_lm")


class Curve(keras.callbacks.Callback):
    """Every ``every`` steps: validation nats/char vs elapsed minutes; stops at the time budget."""

    def __init__(self, name, val_ds, every, minutes, chars_per_step):
        super().__init__()
        self.name, self.val_ds, self.every, self.budget = name, val_ds, every, minutes * 60.0
        self.chars_per_step = chars_per_step
        self.points, self.steps, self.eval_seconds = [], 0, 0.0

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def _evaluate(self):
        t = time.perf_counter()
        nats = float(self.model.evaluate(self.val_ds, verbose=0, return_dict=True)["nats_per_char"])
        self.eval_seconds += time.perf_counter() - t
        elapsed = time.perf_counter() - self.start
        train_seconds = elapsed - self.eval_seconds
        point = {"minutes": elapsed / 60.0, "steps": self.steps, "val_nats_per_char": nats,
                 "val_bits_per_char": nats / np.log(2.0),
                 "chars_per_s": self.steps * self.chars_per_step / max(train_seconds, 1e-9)}
        self.points.append(point)
        print(f"[{self.name}] {point['minutes']:6.2f} min  step {self.steps:6d}  val {nats:.4f} nats/char "
              f"({point['val_bits_per_char']:.3f} bits)  {point['chars_per_s']:.0f} chars/s", file=sys.stderr,
              flush=True)

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if self.steps % self.every == 0:
            self._evaluate()
        if time.perf_counter() - self.start >= self.budget:
            if not self.points or self.points[-1]["steps"] != self.steps:
                self._evaluate()
            self.model.stop_training = True


def run(name, model, args, train_ds, val_ds, minutes):
    set_seed(args.seed)
    compile_charlm(model, args.learning_rate)
    curve = Curve(name, val_ds, args.eval_every, minutes, args.batch_size * args.seq_len)
    model.fit(train_ds, epochs=10_000, callbacks=[curve], verbose=0)
    reached = next((p["minutes"] for p in curve.points if p["val_nats_per_char"] <= TARGET), None)
    return {"layer": name, "parameters": int(model.count_params()), "curve": curve.points,
            "best_val_nats_per_char": min(p["val_nats_per_char"] for p in curve.points),
            "minutes_to_target": reached, "chars_per_s": curve.points[-1]["chars_per_s"]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--text", default=None, help="text file (default: shared tinyshakespeare/input.txt)")
    parser.add_argument("--minutes", type=float, default=30.0, help="wall-clock budget of the kzoo model")
    parser.add_argument("--keras-minutes", type=float, default=30.0,
                        help="budget of the keras.layers.LSTM model (0 skips it)")
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--embedding-dim", type=int, default=64)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--seq-len", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--eval-every", type=int, default=200, help="training steps between validations")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="write the curves and throughput here")
    args = parser.parse_args(argv)

    text = read_text(args.text or paths.find_shared_data("tinyshakespeare") / "input.txt")
    vocab = CharVocab.from_text(text)
    train_text, val_text = split_text(text, 0.1)
    train_ds = window_dataset(text_ids(vocab, train_text), args.seq_len, args.batch_size, shuffle=True,
                              seed=args.seed)
    val_ds = window_dataset(text_ids(vocab, val_text), args.seq_len, args.batch_size)
    results = []
    set_seed(args.seed)
    kzoo = CharLanguageModel(vocab, args.embedding_dim, args.units, args.layers, "lstm", args.dropout)
    results.append(run("zoo.LSTM", kzoo, args, train_ds, val_ds, args.minutes))
    if args.keras_minutes > 0:
        set_seed(args.seed)
        baseline = keras_lstm_lm(vocab, args.embedding_dim, args.units, args.layers, args.dropout)
        results.append(run("keras.layers.LSTM", baseline, args, train_ds, val_ds, args.keras_minutes))

    print("| layer | params | best val nats/char | minutes to <= 1.60 | train chars/s |")
    print("|---|---|---|---|---|")
    for r in results:
        reached = f"{r['minutes_to_target']:.1f}" if r["minutes_to_target"] is not None else "not reached"
        print(f"| {r['layer']} | {r['parameters']} | {r['best_val_nats_per_char']:.3f} | {reached} | "
              f"{r['chars_per_s']:.0f} |")
    if len(results) == 2:
        print(f"throughput kzoo / keras: {results[0]['chars_per_s'] / results[1]['chars_per_s']:.2f}x")
    if args.json:
        write_json({"args": vars(args), "results": results}, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
