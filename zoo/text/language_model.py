"""A character-level language model (Karpathy's char-rnn) on kzoo's fused recurrent layers.

    e_t = E[c_t]                         embedding of character t
    h_t^(l) = RNN^(l)(h_t^(l-1), h_{t-1}^(l))   stacked zoo.LSTM / zoo.GRU / zoo.ElmanRNN, h_t^(0) = e_t
    p(c_{t+1} | c_{≤t}) = softmax(h_t^(L)·V + b)

Training minimises the mean cross-entropy −log p(c_{t+1} | c_{≤t}) over every position of every window,
which *is* the validation metric in nats per character; bits per character = nats / ln 2
(Graves 2013, "Generating Sequences With Recurrent Neural Networks").
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import time
from pathlib import Path

import keras
import numpy as np

from zoo import layers as _registers_fused_layers  # noqa: F401  (saved models name them)
from zoo.data.order import epoch_dataset
from zoo.distribution import get_strategy, worker_out_dir
from zoo.io import atomic_path, load_model_file, write_json
from zoo.seeding import set_seed
from zoo.text.vocab import CharVocab
from zoo.training import check_resume, finished_run, fit_resumable, write_config
from zoo.validation import NAME_ONLY, ArgumentError, MissingPathError, check_positive_int, literal

CELLS = {"lstm": "LSTM", "gru": "GRU", "elman": "ElmanRNN"}
MODEL_FILE = "model.keras"
HISTORY_FILE = "history.json"
METRICS_FILE = "metrics.json"


def text_ids(vocab: CharVocab, text: str) -> np.ndarray:
    """int32 ids of every character of ``text`` (no stripping, no truncation, no padding)."""
    points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4").astype(np.int64)
    return vocab.lookup(points)


_check_positive_int = check_positive_int


# -- metrics --------------------------------------------------------------------------------------


def _char_cross_entropy(y_true, y_pred):
    """−log p(true character) per position, from logits [..., vocab]."""
    return keras.ops.sparse_categorical_crossentropy(y_true, y_pred, from_logits=True)


def _char_bits(y_true, y_pred):
    return _char_cross_entropy(y_true, y_pred) / math.log(2.0)


@keras.saving.register_keras_serializable(package="kzoo")
class NatsPerChar(keras.metrics.MeanMetricWrapper):
    """Mean −ln p(next character) over all characters seen (the cross-entropy in nats)."""

    def __init__(self, name="nats_per_char", dtype=None):
        super().__init__(fn=_char_cross_entropy, name=name, dtype=dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


@keras.saving.register_keras_serializable(package="kzoo")
class BitsPerChar(keras.metrics.MeanMetricWrapper):
    """Mean −log₂ p(next character): nats per character / ln 2."""

    def __init__(self, name="bits_per_char", dtype=None):
        super().__init__(fn=_char_bits, name=name, dtype=dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


# -- model ----------------------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="kzoo")
class CharLanguageModel(keras.Model):
    """Embedding → ``layers`` stacked recurrent layers → logits over the vocabulary.

    Args:
        vocab: a :class:`zoo.text.CharVocab` (or its config dict / JSON); saved in the model's config.
        embedding_dim: size of the character embedding.
        units: hidden units of each recurrent layer.
        layers: number of stacked recurrent layers.
        cell: "lstm", "gru" or "elman" (``zoo.LSTM``, ``zoo.GRU``, ``zoo.ElmanRNN``).
        dropout: rate of the dropout applied to each recurrent layer's output (Zaremba et al. 2014).

    ``model(ids [batch, time])`` returns logits [batch, time, vocab.size]; position t predicts
    character t + 1. :meth:`generate` samples text one character at a time, carrying the states.
    """

    def __init__(self, vocab, embedding_dim=64, units=256, layers=2, cell="lstm", dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        from zoo import layers as zoo_layers

        self.vocab = CharVocab.coerce(vocab)
        self.embedding_dim = _check_positive_int(embedding_dim, "embedding_dim")
        self.units = _check_positive_int(units, "units")
        self.num_layers = _check_positive_int(layers, "layers")
        if cell not in CELLS:
            raise ValueError(f"`cell` must be one of {', '.join(CELLS)}; received cell={cell!r}.")
        self.cell = cell
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) or not 0.0 <= dropout < 1.0:
            raise ValueError(f"`dropout` must be a float in [0, 1); received dropout={dropout!r}.")
        self.dropout = float(dropout)

        layer_class = getattr(zoo_layers, CELLS[cell])
        self.embedding = keras.layers.Embedding(self.vocab.size, self.embedding_dim, name="embedding")
        self.recurrent = [
            layer_class(self.units, return_sequences=True, return_state=True, name=f"{cell}_{i}")
            for i in range(self.num_layers)
        ]
        self.drop = keras.layers.Dropout(self.dropout, name="dropout")
        self.head = keras.layers.Dense(self.vocab.size, name="logits")

    def build(self, input_shape):
        self.embedding.build(input_shape)
        features = self.embedding_dim
        for layer in self.recurrent:
            layer.build((None, None, features))
            features = self.units
        self.head.build((None, None, self.units))
        self.built = True

    def _run(self, ids, initial_states=None, training=None):
        """(logits [batch, time, vocab], final states per layer) of the full sequence ``ids``."""
        x = self.embedding(ids)
        finals = []
        for i, layer in enumerate(self.recurrent):
            state = None if initial_states is None else list(initial_states[i])
            outputs = layer(x, initial_state=state, training=training)
            x, states = outputs[0], list(outputs[1:])
            finals.append(states)
            x = self.drop(x, training=training)
        return self.head(x), finals

    def call(self, inputs, training=None):
        return self._run(inputs, training=training)[0]

    # -- incremental decoding ----------------------------------------------------------------------

    def initial_states(self, batch_size):
        """Zero states: one list per layer ([h, c] for an LSTM, [h] otherwise)."""
        return [list(layer.cell.get_initial_state(batch_size)) for layer in self.recurrent]

    def step(self, ids, states):
        """One character through the cells: ids [batch] → (logits [batch, vocab], new states).

        Equal to the last position of ``model(prefix)`` when ``states`` are those after the prefix.
        """
        x = self.embedding(ids)
        new_states = []
        for layer, state in zip(self.recurrent, states):
            x, state = layer.cell(x, list(state), training=False)
            new_states.append(list(state))
        return self.head(x), new_states

    def _compiled(self):
        import tensorflow as tf

        if "_step_fn" not in self.__dict__:
            # Set with object.__setattr__ so Keras does not track the function as model state.
            object.__setattr__(self, "_step_fn", tf.function(self.step, reduce_retracing=True))
            object.__setattr__(self, "_run_fn", tf.function(
                lambda ids: self._run(ids, training=False),
                input_signature=[tf.TensorSpec([None, None], tf.int32)]))
        return self.__dict__["_step_fn"], self.__dict__["_run_fn"]

    def check_text(self, text, argument="prime"):
        """ids of ``text``; ValueError naming the characters outside the vocabulary."""
        if not isinstance(text, str):
            raise TypeError(f"`{argument}` must be a str; received {type(text).__name__}.")
        ids = text_ids(self.vocab, text)
        unknown = sorted({c for c, i in zip(text, ids) if i == self.vocab.unk_id})
        if unknown:
            raise ValueError(
                f"`{argument}` contains characters outside the model's vocabulary (built from its training "
                f"text): {''.join(unknown)!r}; remove them or use only characters the model was trained on.")
        return ids

    def generate(self, prime, length, temperature=1.0, seed=None):
        """``prime`` followed by ``length`` sampled characters.

        The prime runs through the model once; then each character is drawn from
        softmax(logits / temperature) and fed back through :meth:`step` with the carried states.
        Padding and the unknown id are never drawn. ``seed`` makes the sample reproducible.
        """
        if not isinstance(prime, str) or not prime:
            raise ValueError(f"`prime` must be a non-empty str (the text to continue); received {prime!r}.")
        if isinstance(length, bool) or not isinstance(length, numbers.Integral) or length < 0:
            raise ValueError(f"`length` must be a non-negative integer; received length={length!r}.")
        if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) \
                or not math.isfinite(temperature) or temperature <= 0:
            raise ValueError(f"`temperature` must be a positive number; received temperature={temperature!r}.")
        ids = self.check_text(prime)
        step_fn, run_fn = self._compiled()
        logits, states = run_fn(ids[None, :])
        logits = logits[:, -1]
        rng = np.random.default_rng(seed)
        banned = [self.vocab.pad_id, self.vocab.unk_id]
        out = []
        for _ in range(int(length)):
            scaled = np.asarray(logits, np.float64)[0] / float(temperature)
            scaled[banned] = -np.inf
            probs = np.exp(scaled - scaled.max())
            probs /= probs.sum()
            next_id = int(rng.choice(len(probs), p=probs))
            out.append(next_id)
            logits, states = step_fn(np.array([next_id], np.int32), states)
        return prime + self.vocab.decode(np.array(out, np.int64)) if out else prime

    def get_config(self):
        return {
            **super().get_config(),
            "vocab": self.vocab.get_config(),
            "embedding_dim": self.embedding_dim,
            "units": self.units,
            "layers": self.num_layers,
            "cell": self.cell,
            "dropout": self.dropout,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def compile_charlm(model, learning_rate=2e-3, clipnorm=5.0):
    """Adam with gradient clipping, sparse cross-entropy on the logits, nats/char and bits/char."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate, clipnorm=clipnorm),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[NatsPerChar(), BitsPerChar()],
    )
    return model


# -- data -----------------------------------------------------------------------------------------


def text_windows(ids, seq_len, what="text"):
    """(x, y) arrays [windows, seq_len] of non-overlapping windows: x = ids[k·L : (k+1)·L], y = the same shifted
    by one; a ValueError when ``ids`` hold less than one window (``seq_len + 1`` characters)."""
    ids = np.asarray(ids, np.int32)
    seq_len = _check_positive_int(seq_len, "seq_len")
    windows = (len(ids) - 1) // seq_len
    if windows < 1:
        raise ArgumentError(
            f"the {literal(what)} has {len(ids)} characters, shorter than one window of seq_len + 1 = "
            f"{seq_len + 1}; use a longer text or a smaller {{seq_len}}", seq_len=NAME_ONLY)
    return ids[: windows * seq_len].reshape(windows, seq_len), ids[1 : windows * seq_len + 1].reshape(windows, seq_len)


def window_dataset(ids, seq_len, batch_size, shuffle=False, seed=0, what="text"):
    """``tf.data`` batches of the (x, y) windows of :func:`text_windows`.

    Training batches (``shuffle``) have a fixed size (the last partial batch is dropped) unless there are fewer
    windows than ``batch_size``, and are reshuffled at every pass; :func:`train_charlm` uses
    :func:`zoo.data.order.epoch_dataset` instead, whose order depends on (seed, epoch) only, so that a resumed
    run sees the batches of an uninterrupted one.
    """
    import tensorflow as tf

    batch_size = _check_positive_int(batch_size, "batch_size")
    x, y = text_windows(ids, seq_len, what)
    windows = len(x)
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        ds = ds.shuffle(windows, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=shuffle and windows >= batch_size)
    return ds.prefetch(tf.data.AUTOTUNE)


def read_text(path) -> str:
    """The UTF-8 text of ``path``; errors name the file and the argument (``text_path`` of :func:`train_charlm`,
    ``--text`` on the command line)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise MissingPathError("{text_path}: no such file; pass the path of a UTF-8 text file", text_path=str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ArgumentError("{text_path} is not UTF-8 text (" + literal(err) + "); convert it to UTF-8 first",
                            text_path=str(path)) from err
    if not text:
        raise ArgumentError("{text_path} is empty; pass a file with training text", text_path=str(path))
    return text


def split_text(text, validation_fraction=0.1):
    """(training text, validation text): the validation split is the last ``validation_fraction``."""
    if not 0.0 < validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be in (0, 1); received {validation_fraction!r}")
    cut = int(round(len(text) * (1.0 - validation_fraction)))
    return text[:cut], text[cut:]


# -- training -------------------------------------------------------------------------------------


class EpochCheckpoint(keras.callbacks.Callback):
    """After each epoch: save the whole model (weights, optimizer, vocab) atomically and log the epoch.

    The log (``history.json``) records per epoch the metrics, wall-clock seconds and the throughput
    ``items_per_epoch / seconds`` under the key ``throughput_key``.
    """

    def __init__(self, out_dir, items_per_epoch, throughput_key="chars_per_s"):
        super().__init__()
        self.out = Path(out_dir)
        self.items_per_epoch = items_per_epoch
        self.throughput_key = throughput_key

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self._start
        with atomic_path(self.out / MODEL_FILE) as temporary:
            self.model.save(temporary)
        history = load_history(self.out)
        history = [h for h in history if h["epoch"] < epoch]
        history.append({"epoch": epoch, "seconds": seconds, self.throughput_key: self.items_per_epoch / seconds,
                        **{k: float(v) for k, v in (logs or {}).items()}})
        write_json(history, self.out / HISTORY_FILE)


def load_history(out_dir) -> list:
    path = Path(out_dir) / HISTORY_FILE
    return json.loads(path.read_text()) if path.is_file() else []


def load_charlm(model_dir, sha256=None) -> CharLanguageModel:
    """The :class:`CharLanguageModel` saved by :func:`train_charlm` in ``model_dir``, or any other model reference
    of :func:`zoo.presets.load` holding one: a preset name (``charlm-shakespeare``), a preset directory, a
    ``.keras`` file, or a URL with its ``sha256``."""
    directory = Path(model_dir).expanduser()
    path = directory / MODEL_FILE
    if sha256 is not None or not directory.is_dir() or (directory / "metadata.json").is_file():
        from zoo.presets import load

        return load(model_dir, sha256=sha256, kind="charlm")
    if not path.is_file():
        raise MissingPathError(
            "{model_dir} holds no " + MODEL_FILE + "; train one first with `kzoo train charlm --text FILE --out "
            + literal(directory) + "`", model_dir=str(directory))
    model = load_model_file(path)
    if not isinstance(model, CharLanguageModel):
        raise ValueError(f"{path} holds a {type(model).__name__}, not a CharLanguageModel")
    return model


def evaluate_charlm(model, text_path, seq_len=100, batch_size=64, validation_fraction=0.1) -> dict:
    """``model``'s mean −ln p(next character) on the validation split of ``text_path`` (its last
    ``validation_fraction``, non-overlapping windows of ``seq_len``, as :func:`train_charlm` validates), in nats
    and bits per character, with dropout off. Characters outside the vocabulary count as the unknown id."""
    import tensorflow as tf

    _, val_text = split_text(read_text(text_path), validation_fraction)
    dataset = window_dataset(text_ids(model.vocab, val_text), seq_len, batch_size,
                             what=f"validation split (the last {validation_fraction:.0%} of the text)")

    @tf.function(reduce_retracing=True)
    def batch_nats(x, y):
        return tf.reduce_sum(_char_cross_entropy(y, model(x, training=False)))

    total, count = 0.0, 0
    for x, y in dataset:
        total += float(batch_nats(x, y))
        count += int(tf.size(y))
    nats = total / count
    return {"val_nats_per_char": nats, "val_bits_per_char": nats / math.log(2.0), "val_chars": count}


@dataclasses.dataclass
class CharLMConfig:
    """The settings of a :func:`train_charlm` run, as plain data (saved to ``config.json``): ``model`` holds the
    :class:`CharLanguageModel` arguments (its vocabulary's config included), ``text`` the training file."""

    model: dict
    text: str
    seq_len: int = 100
    batch_size: int = 64
    epochs: int = 10
    seed: int = 0
    learning_rate: float = 2e-3
    validation_fraction: float = 0.1


def train_charlm(text_path, out_dir, epochs=10, units=256, layers=2, seq_len=100, batch_size=64, seed=0,
                 embedding_dim=64, cell="lstm", dropout=0.0, learning_rate=2e-3, validation_fraction=0.1,
                 strategy="none", verbose=1, force=False) -> dict:
    """Train a :class:`CharLanguageModel` on the text file ``text_path``, writing into ``out_dir``.

    The vocabulary is every character of the text (case kept); the last ``validation_fraction`` is the
    validation split. Each epoch saves ``model.keras`` (atomically) and appends to ``history.json``; the
    resume point is ``out_dir/backup`` (:class:`zoo.checkpoint.ResumableCheckpoint`, the one resume state): a rerun
    with the same ``out_dir`` (and a larger ``epochs`` to train longer) continues after the last finished epoch,
    on the batches an uninterrupted run sees (epoch e's order depends on (seed, e) only). Returns the metrics
    (also written to ``metrics.json``).
    """
    epochs = _check_positive_int(epochs, "epochs")
    text = read_text(text_path)
    train_text, val_text = split_text(text, validation_fraction)
    vocab = CharVocab.from_text(text, lowercase=False)
    model_args = {"vocab": vocab.get_config(), "embedding_dim": embedding_dim, "units": units,
                  "layers": layers, "cell": cell, "dropout": dropout}
    config = dataclasses.asdict(CharLMConfig(
        model=model_args, seq_len=seq_len, batch_size=batch_size, epochs=epochs, seed=seed,
        learning_rate=learning_rate, validation_fraction=validation_fraction, text=str(Path(text_path).resolve())))
    check_resume(out_dir, config)
    if not force and (done := finished_run(out_dir, config, "charlm", verbose=verbose)) is not None:
        return done
    strategy = get_strategy(strategy)
    with worker_out_dir(out_dir, strategy) as out:
        write_config(out, config)
        set_seed(seed)
        train_windows = text_windows(text_ids(vocab, train_text), seq_len, what="training text (the first 90%)")
        val_ds = window_dataset(text_ids(vocab, val_text), seq_len, batch_size,
                                what=f"validation split (the last {validation_fraction:.0%} of the text)")
        with strategy.scope():
            model = compile_charlm(CharLanguageModel(**model_args), learning_rate)
            model.build((None, seq_len))
        start = time.perf_counter()
        # Epoch e's order is a function of (seed, e) alone: a resumed run sees the batches of an uninterrupted one.
        done = fit_resumable(model, out_dir, out, strategy, epochs,
                             lambda initial_epoch: epoch_dataset(train_windows, batch_size, seed, epochs,
                                                                 initial_epoch),
                             validation_data=val_ds, verbose=verbose, stage="charlm",
                             callbacks=[EpochCheckpoint(out, train_windows[0].size, "chars_per_s")]).initial_epoch
        seconds = time.perf_counter() - start
        return _charlm_metrics(out, done, seconds, vocab, model)


def _charlm_metrics(out, done, seconds, vocab, model) -> dict:
    history = load_history(out)
    last = history[-1]
    metrics = {
        "epochs": len(history),
        "epochs_trained_now": [h["epoch"] for h in history if h["epoch"] >= done],
        "val_nats_per_char": last["val_nats_per_char"],
        "val_bits_per_char": last["val_bits_per_char"],
        "train_nats_per_char": last["nats_per_char"],
        # over every epoch of the run (resumed ones included), not the last epoch's
        "chars_per_s": (sum(h["chars_per_s"] * h["seconds"] for h in history)
                        / max(sum(h["seconds"] for h in history), 1e-9)),
        "last_epoch_chars_per_s": last["chars_per_s"],
        "seconds": seconds,
        "vocab_size": vocab.size,
        "parameters": int(model.count_params()),
        "replicas": model.distribute_strategy.num_replicas_in_sync,
    }
    write_json(metrics, out / METRICS_FILE)
    return metrics


def evaluate_preset(model, preset: Path, run: Path, data=None, **_options) -> dict:
    """:func:`evaluate_charlm` on the text and settings of the run in ``run`` (its config.json; ``data`` when the
    run names no text): the evaluator of the ``charlm`` preset kind (:mod:`zoo.family`)."""
    settings = {}
    for name in ("config.json", "run.json"):  # run.json: runs of kzoo before the training engine
        if (Path(run) / name).is_file():
            settings = json.loads((Path(run) / name).read_text())
            break
    return evaluate_charlm(model, settings.get("text") or data, seq_len=settings.get("seq_len", 100),
                           batch_size=settings.get("batch_size", 64),
                           validation_fraction=settings.get("validation_fraction", 0.1))
