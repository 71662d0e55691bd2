"""Character-level text encoders: ``CharRNNEncoder``, ``CharCNNEncoder`` and Reed et al.'s ``CharCNNRNN``.

Both map int32 character ids ``[batch, time]`` (from :meth:`CharVocab.encode` or
:class:`CharTokenizer`) to a text embedding ψ(t) of shape ``[batch, output_dim]``. The vocabulary is part
of the config, so a saved encoder knows which ids it was trained on; :func:`load_encoder` (or
:meth:`check_vocab`) refuses a different one.

Reference: S. Reed, Z. Akata, H. Lee, B. Schiele, "Learning Deep Representations of Fine-Grained Visual
Descriptions", CVPR 2016, section 3.2 (char-CNN-RNN).
"""


import keras
from keras import ops

from zoo import layers as fused_layers
from zoo.cells.base import RecurrentCell, check_units
from zoo.io import load_model_file
from zoo.text.tokenizer import CharTokenizer
from zoo.text.vocab import DEFAULT_MAX_LENGTH, CharVocab
from zoo.validation import check_positive_int

CELLS = ("lstm", "gru", "elman", "linear")
POOLINGS = ("mean", "last")


def _recurrent_layer(cell, units, return_sequences, name, **cell_kwargs):
    """A kzoo fused layer for a cell name, or ``keras.layers.RNN`` over a kzoo cell instance."""
    if isinstance(cell, RecurrentCell):
        return keras.layers.RNN(cell, return_sequences=return_sequences, name=name)
    layer_class = {"lstm": fused_layers.LSTM, "gru": fused_layers.GRU, "elman": fused_layers.ElmanRNN,
                   "linear": fused_layers.LinearRNN}[cell]
    return layer_class(units, return_sequences=return_sequences, name=name, **cell_kwargs)


def _check_cell(cell, units):
    """Return (cell, units): a cell name with its units, or a kzoo cell instance with its own units."""
    if isinstance(cell, dict):
        cell = keras.saving.deserialize_keras_object(cell)
    if isinstance(cell, RecurrentCell):
        if units is not None and units != cell.units:
            raise ValueError(
                f"`units`={units} disagrees with the cell's units={cell.units}; pass units=None with a cell instance."
            )
        return cell, cell.units
    if not isinstance(cell, str) or cell.lower() not in CELLS:
        raise ValueError(
            f"`cell` must be one of {', '.join(map(repr, CELLS))} or a kzoo cell instance (zoo.LSTMCell(...), ...); "
            f"received cell={cell!r}."
        )
    return cell.lower(), check_units(units)


def _serialize_cell(cell):
    """A cell name as is; a cell instance as its Keras serialization, without its build state."""
    if isinstance(cell, str):
        return cell
    config = keras.saving.serialize_keras_object(cell)
    config.pop("build_config", None)
    return config


_check_positive = check_positive_int


class CharEncoder(keras.Model):
    """What the character encoders share: the vocabulary, its check, a matching tokenizer, the config."""

    def __init__(self, vocab=None, output_dim=1024, **kwargs):
        super().__init__(**kwargs)
        self.vocab = CharVocab() if vocab is None else CharVocab.coerce(vocab)
        self.output_dim = _check_positive(output_dim, "output_dim")

    def _ids_shape(self, input_shape):
        """``input_shape`` as a tuple; ValueError unless it is [batch, time]."""
        input_shape = tuple(input_shape)
        if len(input_shape) != 2:
            raise ValueError(f"{type(self).__name__} expects ids of shape [batch, time]; received {input_shape}.")
        return input_shape

    def check_vocab(self, vocab):
        """Raise ValueError unless ``vocab`` equals the vocabulary this encoder was built (trained) with."""
        vocab = CharVocab.coerce(vocab)
        if vocab != self.vocab:
            raise ValueError(
                f"{type(self).__name__} {self.name!r} was built with vocabulary {self.vocab.fingerprint()} "
                f"(size {self.vocab.size}, lowercase={self.vocab.lowercase}) but the given vocabulary is "
                f"{vocab.fingerprint()} (size {vocab.size}, lowercase={vocab.lowercase}); its ids would mean "
                f"other characters. Encode texts with `encoder.vocab` (or `encoder.tokenizer()`)."
            )
        return self

    def tokenizer(self, max_length=DEFAULT_MAX_LENGTH, **kwargs):
        """A :class:`CharTokenizer` with this encoder's vocabulary."""
        return CharTokenizer(self.vocab, max_length=max_length, **kwargs)

    def encode_texts(self, texts, max_length=DEFAULT_MAX_LENGTH):
        """Embeddings of Python strings (tokenized with this encoder's vocabulary), as a NumPy array."""
        return keras.ops.convert_to_numpy(self(self.vocab.encode(texts, max_length), training=False))

    def get_config(self):
        return {**super().get_config(), "vocab": self.vocab.get_config(), "output_dim": self.output_dim}


@keras.saving.register_keras_serializable(package="kzoo")
class CharRNNEncoder(CharEncoder):
    """Embedding -> recurrent layer -> pooling over time -> Dense: ψ(t) = W·pool_t(h_t) + b.

    With ``bidirectional=True`` a second recurrent layer reads the text backwards
    (``keras.layers.Bidirectional``) and h_t = [h→_t ; h←_t]: every step then sees the whole caption, so a
    colour word is read together with the shape word that follows it.

    Padding (id 0) is masked: the recurrent layer skips it (``mask_zero``), ``pooling="mean"`` averages
    h_t over the real characters only, ``pooling="last"`` takes h at the last real character. Appending
    padding therefore never changes the output; an all-padding text gives ψ = b.

    Args:
        vocab: the :class:`CharVocab` (or its config/JSON) whose ids the encoder reads.
        embedding_dim: size of the learned character embedding.
        cell: "lstm", "gru", "elman" or "linear" (kzoo's fused layers), or a kzoo cell instance
            (``zoo.LSTMCell(...)``; run by ``keras.layers.RNN``, ``units`` then comes from the cell).
        units: size of the recurrent state.
        output_dim: size of ψ(t).
        pooling: "mean" or "last" (for a bidirectional encoder "last" takes each direction's final state).
        bidirectional: also read the text backwards and concatenate both directions' states.
    """

    def __init__(self, vocab=None, embedding_dim=128, cell="lstm", units=256, output_dim=1024, pooling="mean",
                 bidirectional=False, **kwargs):
        super().__init__(vocab=vocab, output_dim=output_dim, **kwargs)
        self.embedding_dim = _check_positive(embedding_dim, "embedding_dim")
        self.cell_spec, self.units = _check_cell(cell, units)
        if pooling not in POOLINGS:
            raise ValueError(f"`pooling` must be one of {', '.join(map(repr, POOLINGS))}; "
                             f"received pooling={pooling!r}.")
        self.pooling = pooling
        self.bidirectional = bool(bidirectional)
        self.embedding = keras.layers.Embedding(self.vocab.size, self.embedding_dim, mask_zero=True, name="embedding")
        self.rnn = _recurrent_layer(self.cell_spec, self.units, return_sequences=pooling == "mean", name="rnn")
        if self.bidirectional:
            if not isinstance(self.cell_spec, str):
                raise ValueError("`bidirectional=True` needs a cell name (\"gru\", ...), not a cell instance: "
                                 "each direction gets its own layer.")
            self.rnn = keras.layers.Bidirectional(self.rnn, merge_mode="concat", name="birnn")
        self.projection = keras.layers.Dense(self.output_dim, name="projection")

    def build(self, input_shape):
        input_shape = self._ids_shape(input_shape)
        self.embedding.build(input_shape)
        self.rnn.build((*input_shape, self.embedding_dim))
        self.projection.build((input_shape[0], self.units * (2 if self.bidirectional else 1)))
        self.built = True

    def call(self, ids, training=False):
        ids = ops.convert_to_tensor(ids, dtype="int32")
        mask = ops.not_equal(ids, self.vocab.pad_id)
        states = self.rnn(self.embedding(ids), mask=mask, training=training)
        if self.pooling == "mean":
            weights = ops.expand_dims(ops.cast(mask, states.dtype), -1)
            states = ops.sum(states * weights, axis=1) / ops.maximum(ops.sum(weights, axis=1), 1.0)
        return self.projection(states)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_dim)

    def get_config(self):
        return {
            **super().get_config(),
            "embedding_dim": self.embedding_dim,
            "cell": _serialize_cell(self.cell_spec),
            "units": None if not isinstance(self.cell_spec, str) else self.units,
            "pooling": self.pooling,
            "bidirectional": self.bidirectional,
        }


@keras.saving.register_keras_serializable(package="kzoo")
class CharCNNEncoder(CharEncoder):
    """Embedding -> [Conv1D(f_k, kernel_size, same) + ReLU]·k -> max over time -> Dense.

    ψ(t) = W·max_t c_t + b, with c_t the last convolution's features at character t: each feature is a detector of
    a character n-gram (up to k·(kernel_size − 1) + 1 characters wide) that fires wherever the n-gram occurs, and
    the maximum keeps whether it fired, not where or next to what (the max-over-time pooling of Kim 2014 and
    Zhang et al. 2015). A caption is thus read as the set of its words and short phrases, so two words never seen
    together ("red" and "triangle") are encoded as each is alone: the encoder composes them by construction,
    where a recurrent encoder trained only on seen pairs may not.

    Padding (id 0) is masked: its embedding is zeroed before the convolutions (whose "same" padding is zeros too)
    and its features are left out of the maximum, so appending padding never changes the output; an all-padding
    text gives ψ = b.

    Args:
        vocab: the :class:`CharVocab` (or its config/JSON) whose ids the encoder reads.
        embedding_dim: size of the learned character embedding.
        filters: channels of each convolution, one entry per layer.
        kernel_size: width of every convolution, in characters.
        output_dim: size of ψ(t).

    Example:

    >>> encoder = CharCNNEncoder(CharVocab(), filters=(64, 64), output_dim=32)
    >>> encoder.encode_texts(["a red triangle"], max_length=24).shape
    (1, 32)
    """

    def __init__(self, vocab=None, embedding_dim=32, filters=(256, 256), kernel_size=3, output_dim=1024, **kwargs):
        super().__init__(vocab=vocab, output_dim=output_dim, **kwargs)
        self.embedding_dim = _check_positive(embedding_dim, "embedding_dim")
        self.filters = CharCNNRNN._stage_tuple(filters, "filters")
        self.kernel_size = _check_positive(kernel_size, "kernel_size")
        self.embedding = keras.layers.Embedding(self.vocab.size, self.embedding_dim, name="embedding")
        self.convolutions = [keras.layers.Conv1D(f, self.kernel_size, padding="same", activation="relu",
                                                 name=f"conv{k + 1}") for k, f in enumerate(self.filters)]
        self.projection = keras.layers.Dense(self.output_dim, name="projection")

    def build(self, input_shape):
        input_shape = self._ids_shape(input_shape)
        self.embedding.build(input_shape)
        shape = (*input_shape, self.embedding_dim)
        for conv in self.convolutions:
            conv.build(shape)
            shape = conv.compute_output_shape(shape)
        self.projection.build((input_shape[0], self.filters[-1]))
        self.built = True

    def call(self, ids, training=False):
        ids = ops.convert_to_tensor(ids, dtype="int32")
        mask = ops.expand_dims(ops.cast(ops.not_equal(ids, self.vocab.pad_id), self.compute_dtype), -1)
        x = self.embedding(ids) * mask
        for conv in self.convolutions:
            x = conv(x) * mask
        # ReLU features are >= 0, so zeroed padding never wins the maximum over a real character
        return self.projection(ops.max(x, axis=1))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_dim)

    def get_config(self):
        return {**super().get_config(), "embedding_dim": self.embedding_dim, "filters": list(self.filters),
                "kernel_size": self.kernel_size}


@keras.saving.register_keras_serializable(package="kzoo")
class CharCNNRNN(CharEncoder):
    """Reed et al.'s hybrid character CNN-RNN (char-CNN-RNN).

    One-hot characters (the alphabet and the unknown id: 70 channels for the default vocabulary; padding
    is the zero vector) ->
    [Conv1D(filters_k, kernel_size) + ReLU + MaxPool1D(pool_sizes_k, pool_strides_k)] for k = 1..3 ->
    a recurrent layer over the remaining steps -> mean over time -> Dense(output_dim).

    Paper defaults: filters (384, 512, 256), kernel 4, pools 3/3, 3/3, 3/2, a 256-unit recurrent layer;
    a 201-character text leaves 8 steps (201 -> 198 -> 66 -> 63 -> 21 -> 18 -> 8). Reed et al.'s
    recurrent layer is a plain RNN with ReLU, so ``cell="elman"`` uses ``activation="relu"``. The text is
    read at its fixed length (padding is not masked), as in the paper.

    Args:
        vocab: the :class:`CharVocab` (or its config/JSON).
        output_dim: size of ψ(t) (paper: 1024).
        filters, kernel_size, pool_sizes, pool_strides: the three convolution/pooling stages.
        cell: "elman" (ReLU), "lstm", "gru", "linear", or a kzoo cell instance.
        units: size of the recurrent state.
    """

    def __init__(self, vocab=None, output_dim=1024, filters=(384, 512, 256), kernel_size=4, pool_sizes=(3, 3, 3),
                 pool_strides=(3, 3, 2), cell="elman", units=256, **kwargs):
        super().__init__(vocab=vocab, output_dim=output_dim, **kwargs)
        self.filters = self._stage_tuple(filters, "filters")
        self.pool_sizes = self._stage_tuple(pool_sizes, "pool_sizes")
        self.pool_strides = self._stage_tuple(pool_strides, "pool_strides")
        if not len(self.filters) == len(self.pool_sizes) == len(self.pool_strides):
            raise ValueError(
                f"`filters`, `pool_sizes` and `pool_strides` need one entry per convolution stage; received "
                f"{len(self.filters)}, {len(self.pool_sizes)} and {len(self.pool_strides)} entries."
            )
        self.kernel_size = _check_positive(kernel_size, "kernel_size")
        self.cell_spec, self.units = _check_cell(cell, units)
        self.convolutions = [
            keras.layers.Conv1D(f, self.kernel_size, activation="relu", name=f"conv{k + 1}")
            for k, f in enumerate(self.filters)
        ]
        self.poolings = [
            keras.layers.MaxPooling1D(size, stride, name=f"pool{k + 1}")
            for k, (size, stride) in enumerate(zip(self.pool_sizes, self.pool_strides))
        ]
        extra = {"activation": "relu"} if self.cell_spec == "elman" else {}
        self.rnn = _recurrent_layer(self.cell_spec, self.units, return_sequences=True, name="rnn", **extra)
        self.projection = keras.layers.Dense(self.output_dim, name="projection")

    @staticmethod
    def _stage_tuple(values, name):
        if isinstance(values, (str, bytes)) or not hasattr(values, "__len__") or len(values) == 0:
            raise ValueError(f"`{name}` must be a non-empty sequence of positive integers; received {values!r}.")
        return tuple(_check_positive(v, f"{name}[{i}]") for i, v in enumerate(values))

    @property
    def channels(self):
        """One-hot channels: every id but padding (``vocab.size - 1``)."""
        return self.vocab.size - 1

    def output_steps(self, length):
        """Time steps left for the recurrent layer from a text of ``length`` characters (< 1: too short)."""
        for size, stride in zip(self.pool_sizes, self.pool_strides):
            length = length - self.kernel_size + 1
            length = (length - size) // stride + 1 if length >= size else 0
        return length

    def build(self, input_shape):
        input_shape = self._ids_shape(input_shape)
        length = input_shape[1]
        if length is not None and self.output_steps(length) < 1:
            shortest = next(n for n in range(1, 100_000) if self.output_steps(n) >= 1)
            raise ValueError(
                f"{type(self).__name__} needs texts of at least {shortest} characters (max_length) for its "
                f"convolutions and poolings; received time length {length}."
            )
        shape = (input_shape[0], length, self.channels)
        for conv, pool in zip(self.convolutions, self.poolings):
            conv.build(shape)
            shape = pool.compute_output_shape(conv.compute_output_shape(shape))
        self.rnn.build(shape)
        self.projection.build((input_shape[0], self.units))
        self.built = True

    def call(self, ids, training=False):
        ids = ops.convert_to_tensor(ids, dtype="int32")
        x = ops.one_hot(ids, self.vocab.size, dtype=self.compute_dtype)[..., 1:]
        for conv, pool in zip(self.convolutions, self.poolings):
            x = pool(conv(x))
        return self.projection(ops.mean(self.rnn(x, training=training), axis=1))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_dim)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": list(self.filters),
            "kernel_size": self.kernel_size,
            "pool_sizes": list(self.pool_sizes),
            "pool_strides": list(self.pool_strides),
            "cell": _serialize_cell(self.cell_spec),
            "units": None if not isinstance(self.cell_spec, str) else self.units,
        }


def load_encoder(path, vocab=None):
    """Load a saved encoder (``.keras``, safe mode) and, when ``vocab`` is given, refuse a mismatch.

    Raises ValueError naming both vocabulary fingerprints when the encoder was trained with a vocabulary
    other than ``vocab``, and TypeError when the file holds no character encoder.
    """
    model = load_model_file(path)
    if not isinstance(model, CharEncoder):
        raise TypeError(f"{path} holds a {type(model).__name__}, not a character encoder (CharRNNEncoder, "
                        "CharCNNEncoder, CharCNNRNN).")
    if vocab is not None:
        model.check_vocab(vocab)
    return model
