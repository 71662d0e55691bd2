"""A character encoder-decoder (Sutskever et al. 2014) with optional Luong dot attention (Luong et al. 2015).

    encoder:  (e_1..e_S, s_S) = RNN_enc(x_1..x_S)               over the whole (masked) input
    decoder:  d_t, s_t = RNN_dec(y_{t-1}, s_{t-1}),  s_0 = s_S,  y_0 = BOS
    attention: a_t = softmax(d_t·e_1..S) (masked),  c_t = Σ_s a_ts e_s
    output:   p(y_t | y_<t, x) = softmax(W_o·tanh(W_c·[d_t; c_t]))   (without attention: softmax(W_o·d_t))

Training uses teacher forcing (the decoder reads the true y_{t-1}); inference decodes greedily,
y_t = argmax p(y_t | ŷ_<t, x), carrying the decoder states step by step until EOS.
Output ids are the target vocabulary's ids plus two more: BOS = size, EOS = size + 1.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import keras
import numpy as np
from keras import ops

from zoo.distribution import get_strategy, worker_out_dir
from zoo.io import load_model_file, write_json
from zoo.seeding import set_seed
from zoo.text.language_model import MODEL_FILE, EpochCheckpoint, _check_positive_int, load_history
from zoo.text.vocab import CharVocab
from zoo.training import check_resume, finished_run, fit_resumable, write_config
from zoo.validation import MissingPathError, literal

CELLS = {"lstm": "LSTM", "gru": "GRU", "elman": "ElmanRNN"}
TASKS = ("dates",)
METRICS_FILE = "metrics.json"


@keras.saving.register_keras_serializable(package="kzoo")
class CharSeq2Seq(keras.Model):
    """Character encoder-decoder: ``model((source_ids, decoder_input_ids))`` → logits over output ids.

    Args:
        source_vocab: :class:`zoo.text.CharVocab` of the inputs (or its config dict / JSON).
        target_vocab: vocabulary of the outputs; None shares ``source_vocab``.
        embedding_dim: size of the character embeddings (ignored with ``one_hot=True``).
        units: hidden units of the encoder and of the decoder.
        cell: "lstm", "gru" or "elman".
        attention: add Luong dot attention over the encoder outputs.
        one_hot: feed one-hot characters instead of learned embeddings.
        max_source_length: longest input :meth:`translate` accepts.
        max_output_length: most output characters :meth:`greedy_decode` produces (EOS excluded).

    Source ids use 0 as padding (masked in the encoder and in attention); decoder inputs start with
    :attr:`bos_id`; targets end with :attr:`eos_id` and are padded with 0 (give padding zero weight).
    """

    def __init__(self, source_vocab, target_vocab=None, embedding_dim=32, units=128, cell="lstm",
                 attention=True, one_hot=False, max_source_length=64, max_output_length=32, **kwargs):
        super().__init__(**kwargs)
        from zoo import layers as zoo_layers

        self.source_vocab = CharVocab.coerce(source_vocab, "source_vocab")
        self.shared_vocab = target_vocab is None
        self.target_vocab = self.source_vocab if target_vocab is None else CharVocab.coerce(target_vocab,
                                                                                         "target_vocab")
        self.embedding_dim = _check_positive_int(embedding_dim, "embedding_dim")
        self.units = _check_positive_int(units, "units")
        if cell not in CELLS:
            raise ValueError(f"`cell` must be one of {', '.join(CELLS)}; received cell={cell!r}.")
        self.cell = cell
        for name, flag in (("attention", attention), ("one_hot", one_hot)):
            if not isinstance(flag, bool):
                raise ValueError(f"`{name}` must be True or False; received {name}={flag!r}.")
        self.attention, self.one_hot = attention, one_hot
        self.max_source_length = _check_positive_int(max_source_length, "max_source_length")
        self.max_output_length = _check_positive_int(max_output_length, "max_output_length")

        layer_class = getattr(zoo_layers, CELLS[cell])
        if not one_hot:
            self.source_embedding = keras.layers.Embedding(self.source_vocab.size, embedding_dim,
                                                           name="source_embedding")
            self.target_embedding = keras.layers.Embedding(self.num_classes, embedding_dim,
                                                           name="target_embedding")
        self.encoder = layer_class(units, return_sequences=True, return_state=True, name="encoder")
        self.decoder = layer_class(units, return_sequences=True, return_state=True, name="decoder")
        if attention:
            self.attend = keras.layers.Attention(name="attention")
            self.combine = keras.layers.Dense(units, activation="tanh", name="combine")
        self.head = keras.layers.Dense(self.num_classes, name="logits")

    @property
    def bos_id(self):
        return self.target_vocab.size

    @property
    def eos_id(self):
        return self.target_vocab.size + 1

    @property
    def num_classes(self):
        return self.target_vocab.size + 2

    def build(self, input_shape=None):
        source_features = self.source_vocab.size if self.one_hot else self.embedding_dim
        target_features = self.num_classes if self.one_hot else self.embedding_dim
        if not self.one_hot:
            self.source_embedding.build((None, None))
            self.target_embedding.build((None, None))
        self.encoder.build((None, None, source_features))
        self.decoder.build((None, None, target_features))
        features = self.units
        if self.attention:
            self.attend.build([(None, None, self.units), (None, None, self.units)])
            self.combine.build((None, None, 2 * self.units))
        self.head.build((None, None, features))
        self.built = True

    def _embed_source(self, ids):
        if self.one_hot:
            return ops.one_hot(ids, self.source_vocab.size)
        return self.source_embedding(ids)

    def _embed_target(self, ids):
        if self.one_hot:
            return ops.one_hot(ids, self.num_classes)
        return self.target_embedding(ids)

    def encode(self, source_ids, training=None):
        """(encoder outputs [batch, S, units], source mask [batch, S], final states)."""
        mask = ops.not_equal(source_ids, 0)
        outputs = self.encoder(self._embed_source(source_ids), mask=mask, training=training)
        return outputs[0], mask, list(outputs[1:])

    def _output_logits(self, decoded, encoded, source_mask):
        if not self.attention:
            return self.head(decoded)
        context = self.attend([decoded, encoded], mask=[None, source_mask])
        return self.head(self.combine(ops.concatenate([decoded, context], axis=-1)))

    def call(self, inputs, training=None):
        source_ids, decoder_ids = inputs
        encoded, source_mask, states = self.encode(source_ids, training=training)
        outputs = self.decoder(self._embed_target(decoder_ids), initial_state=states,
                               mask=ops.not_equal(decoder_ids, 0), training=training)
        return self._output_logits(outputs[0], encoded, source_mask)

    def greedy_decode(self, source_ids, max_length=None, return_logits=False):
        """Output ids [batch, ≤ max_length] (target vocabulary ids, 0 after EOS) by greedy decoding.

        Each step feeds the previous argmax through the decoder cell with the carried states (never
        re-running the prefix). With ``return_logits`` also the logits of each step [batch, steps, classes].
        """
        max_length = self.max_output_length if max_length is None else _check_positive_int(max_length,
                                                                                            "max_length")
        source_ids = ops.convert_to_tensor(np.asarray(source_ids, np.int32))
        encoded, source_mask, states = self.encode(source_ids, training=False)
        batch = int(source_ids.shape[0])
        token = np.full((batch,), self.bos_id, np.int32)
        finished = np.zeros(batch, bool)
        ids, all_logits = [], []
        banned = np.zeros(self.num_classes, bool)
        banned[[0, self.bos_id]] = True
        for _ in range(max_length + 1):
            x, states = self.decoder.cell(self._embed_target(token), states, training=False)
            logits = np.asarray(self._output_logits(x[:, None, :], encoded, source_mask)[:, 0])
            all_logits.append(logits)
            token = np.where(banned, -np.inf, logits).argmax(-1).astype(np.int32)
            token = np.where(finished, 0, token).astype(np.int32)
            finished |= token == self.eos_id
            ids.append(np.where(token == self.eos_id, 0, token))
            if finished.all():
                break
            token = np.where(finished, self.eos_id, token).astype(np.int32)
        out = np.stack(ids, axis=1)[:, :max_length]
        return (out, np.stack(all_logits, axis=1)) if return_logits else out

    def encode_texts(self, texts):
        """Source ids [batch, longest] of ``texts``; ValueError when one exceeds ``max_source_length``."""
        if isinstance(texts, str):
            texts = [texts]
        too_long = [t for t in texts if isinstance(t, str) and len(t.strip()) > self.max_source_length]
        if too_long:
            raise ValueError(f"input {too_long[0]!r} is longer than max_source_length={self.max_source_length} "
                             f"characters; shorten it")
        ids = self.source_vocab.encode(texts, max_length=self.max_source_length)
        longest = max(1, int(self.source_vocab.lengths(ids).max()))
        return ids[:, :longest]

    def translate(self, texts, batch_size=512):
        """Greedy outputs for ``texts`` as strings. Unknown input characters map to the unknown id."""
        if not isinstance(texts, str) and len(texts) == 0:
            return []
        ids = self.encode_texts(texts)
        out = []
        for start in range(0, len(ids), batch_size):
            chunk = ids[start:start + batch_size]
            chunk = chunk[:, :max(1, int(self.source_vocab.lengths(chunk).max()))]
            decoded = self.greedy_decode(chunk)
            # BOS/EOS cannot occur in the output; ids of the target vocabulary decode as text.
            out.extend(self.target_vocab.decode(row) for row in decoded)
        return out

    def get_config(self):
        return {
            **super().get_config(),
            "source_vocab": self.source_vocab.get_config(),
            "target_vocab": None if self.shared_vocab else self.target_vocab.get_config(),
            "embedding_dim": self.embedding_dim,
            "units": self.units,
            "cell": self.cell,
            "attention": self.attention,
            "one_hot": self.one_hot,
            "max_source_length": self.max_source_length,
            "max_output_length": self.max_output_length,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def target_sequences(model, texts):
    """[BOS, ids of text..., EOS] for each target text."""
    ids = model.target_vocab.encode(texts, max_length=model.max_output_length)
    lengths = model.target_vocab.lengths(ids)
    return [np.concatenate([[model.bos_id], row[:n], [model.eos_id]]).astype(np.int32)
            for row, n in zip(ids, lengths)]


def source_sequences(model, texts):
    ids = model.encode_texts(texts)
    return [row[:n] for row, n in zip(ids, model.source_vocab.lengths(ids))]


def exact_match(model, sources, targets):
    """Fraction of ``sources`` whose greedy translation equals the target string exactly."""
    predictions = model.translate(list(sources))
    return float(np.mean([p == t for p, t in zip(predictions, targets)])), predictions


def date_vocabularies():
    """(source, target) vocabularies of the dates task: lowercased messy dates → ISO digits and '-'."""
    return (CharVocab("abcdefghijklmnopqrstuvwxyz0123456789 ,./-", lowercase=True),
            CharVocab("0123456789-", lowercase=False))


def load_seq2seq(model_dir) -> CharSeq2Seq:
    """The :class:`CharSeq2Seq` saved by :func:`train_seq2seq` in ``model_dir``."""
    directory = Path(model_dir).expanduser()
    path = directory / MODEL_FILE
    if not directory.is_dir():
        raise MissingPathError("{model_dir}: no such directory; pass the output folder of `kzoo train seq2seq`",
                               model_dir=str(directory))
    if not path.is_file():
        raise MissingPathError("{model_dir} holds no " + MODEL_FILE + "; train one first with `kzoo train seq2seq "
                               "--task dates --out " + literal(directory) + "`", model_dir=str(directory))
    model = load_model_file(path)
    if not isinstance(model, CharSeq2Seq):
        raise ValueError(f"{path} holds a {type(model).__name__}, not a CharSeq2Seq")
    return model


@dataclasses.dataclass
class Seq2SeqConfig:
    """The settings of a :func:`train_seq2seq` run, as plain data (saved to ``config.json``): ``model`` holds the
    :class:`CharSeq2Seq` arguments (both vocabularies' configs included)."""

    model: dict
    task: str = "dates"
    seed: int = 0
    n_train: int = 40000
    n_test: int = 2000
    batch_size: int = 64
    epochs: int = 4
    learning_rate: float = 3e-3
    bucket_boundaries: list = dataclasses.field(default_factory=lambda: [12, 16, 20, 24, 32, 41])


def train_seq2seq(task="dates", out_dir="runs/seq2seq", epochs=4, seed=0, n_train=40000, n_test=2000,
                  batch_size=64, units=128, embedding_dim=32, cell="lstm", attention=True, learning_rate=3e-3,
                  bucket_boundaries=(12, 16, 20, 24, 32, 41), strategy="none", verbose=1, force=False) -> dict:
    """Train a :class:`CharSeq2Seq` on a generated task and report exact match on ``n_test`` held-out pairs.

    ``dates``: messy dates → ISO (:mod:`zoo.text.dates`); the held-out days never occur in training.
    Batches are bucketed by input length (``bucket_boundaries``; fewer buckets = fewer shapes to
    compile, more padding). Each epoch saves ``model.keras``; a rerun with the same
    ``out_dir`` resumes (see :func:`zoo.text.language_model.train_charlm`). Returns the metrics, also
    written to ``metrics.json``.
    """

    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; available: {', '.join(TASKS)}")
    epochs = _check_positive_int(epochs, "epochs")
    source_vocab, target_vocab = date_vocabularies()
    model_args = {"source_vocab": source_vocab.get_config(), "target_vocab": target_vocab.get_config(),
                  "embedding_dim": embedding_dim, "units": units, "cell": cell, "attention": attention,
                  "max_source_length": 40, "max_output_length": 10}
    config = dataclasses.asdict(Seq2SeqConfig(
        task=task, model=model_args, seed=seed, n_train=n_train, n_test=n_test, batch_size=batch_size, epochs=epochs,
        learning_rate=learning_rate, bucket_boundaries=list(bucket_boundaries)))
    check_resume(out_dir, config)
    if not force and (done := finished_run(out_dir, config, "seq2seq", verbose=verbose)) is not None:
        return done
    strategy = get_strategy(strategy)
    with worker_out_dir(out_dir, strategy) as out:
        write_config(out, config)
        return _train_seq2seq(config, strategy, Path(out_dir).expanduser(), out, verbose)


def _train_seq2seq(config, strategy, out_dir: Path, out: Path, verbose) -> dict:
    from zoo.text import dates

    seed, batch_size, epochs, boundaries = (config["seed"], config["batch_size"], config["epochs"],
                                            config["bucket_boundaries"])
    set_seed(seed)
    train_pairs, test_pairs = dates.train_test_split(config["n_train"], config["n_test"], seed=seed)
    n_val = max(1, len(train_pairs) // 20)
    val_pairs, train_pairs = train_pairs[:n_val], train_pairs[n_val:]

    with strategy.scope():
        model = CharSeq2Seq(**config["model"])
        model.build()
        model.compile(optimizer=keras.optimizers.Adam(config["learning_rate"], clipnorm=5.0),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="char_accuracy")])

    def pipeline(pairs, **order):
        sources, targets = zip(*pairs)
        sources = source_sequences(model, sources)
        dataset = dates.bucketed_dataset(sources, target_sequences(model, targets), batch_size, boundaries,
                                         seed=seed, **order)
        return dataset, dates.bucketed_batches(sources, batch_size, boundaries)

    start = time.perf_counter()
    # Epoch e's order is a function of (seed, e) alone: a resumed run sees the batches of an uninterrupted one.
    done = fit_resumable(model, out_dir, out, strategy, epochs,
                         lambda initial_epoch: pipeline(train_pairs, shuffle=True, epochs=epochs,
                                                        initial_epoch=initial_epoch),
                         validation_data=pipeline(val_pairs)[0], verbose=verbose, stage="seq2seq",
                         callbacks=[EpochCheckpoint(out, len(train_pairs), "examples_per_s")]).initial_epoch
    seconds = time.perf_counter() - start
    task = config["task"]
    sources, targets = zip(*test_pairs)
    accuracy, predictions = exact_match(model, sources, targets)
    history = load_history(out)
    metrics = {
        "task": task,
        "epochs": len(history),
        "epochs_trained_now": [h["epoch"] for h in history if h["epoch"] >= done],
        "exact_match": accuracy,
        "held_out": len(test_pairs),
        "train_seconds": seconds,
        "total_train_seconds": float(sum(h["seconds"] for h in history)),
        "replicas": model.distribute_strategy.num_replicas_in_sync,
        "errors": [{"input": s, "target": t, "output": p}
                   for s, t, p in zip(sources, targets, predictions) if p != t][:20],
    }
    write_json(metrics, out / METRICS_FILE)
    return metrics


def evaluate_preset(model, preset: Path, run: Path, data=None, **_options) -> dict:
    """Exact match of ``model`` on the held-out pairs of the run in ``run`` (the task, seed and sizes of its
    config.json, as :func:`train_seq2seq` drew them): the evaluator of the ``seq2seq`` preset kind
    (:mod:`zoo.family`)."""
    from zoo.text import dates

    settings = json.loads((Path(run) / "config.json").read_text())
    _, test_pairs = dates.train_test_split(settings["n_train"], settings["n_test"], seed=settings["seed"])
    sources, targets = zip(*test_pairs)
    accuracy, _ = exact_match(model, sources, targets)
    return {"task": settings.get("task", "dates"), "exact_match": accuracy, "held_out": len(test_pairs)}
