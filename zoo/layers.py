"""Fused sequence layers: ``ElmanRNN``, ``LSTM``, ``GRU`` and ``LinearRNN``.

Each layer is a ``keras.layers.RNN`` over the matching kzoo cell, so ``return_sequences``,
``return_state``, ``go_backwards``, ``stateful``/``reset_state()``, ``initial_state``,
masking, ``Bidirectional`` and saving all behave as in Keras. What changes is the loop:

**Fast path** (TensorFlow backend): the input projection of all time steps is one matrix
product, X·U over (batch·time) rows; only + b and h_{t-1}·W run inside the loop, and the
gradient is hand-written BPTT (``zoo.fused_tf``) whose weight gradients are single
matrix products over all steps. The batch is cut into one shard per CPU core and the
shards' loops (XLA-compiled) run concurrently. Input ``dropout`` is applied to X before the
projection, with the same per-sequence mask the cell would use.

**Generic path**: the cell step by step inside Keras's own loop. The layer falls back to it
automatically when the fast path cannot compute the same function:

* ``recurrent_dropout > 0`` while training (the mask sits inside the recurrence);
* ``unroll=True``;
* an activation the fast path has no closed-form derivative for (it knows tanh, sigmoid,
  relu and linear; the LSTM/GRU gates must be sigmoid, the GRU candidate tanh);
* a backend other than TensorFlow.

``layer.fast_path_blocker(training)`` says which, or None when the fast path runs. ``use_fused``
chooses, in the manner of Keras's ``use_cudnn``: ``"auto"`` (default) takes the fast path when it
can and falls back otherwise; ``True`` takes it or raises ``ValueError`` naming the blocker (at
construction for a setting that always blocks it, at the call for ``recurrent_dropout`` while
training); ``False`` always runs the generic path.
"""

import inspect

import keras
from keras import ops

from zoo.cells.base import RecurrentCell, activation_name, check_units
from zoo.cells.elman import ElmanCell
from zoo.cells.gru import GRUCell
from zoo.cells.linear import LinearRecurrentCell
from zoo.cells.lstm import LSTMCell

_LAYER_BASE_KEYS = ("name", "trainable", "dtype")
USE_FUSED = ("auto", True, False)


class FusedRNN(keras.layers.RNN):
    """Shared wrapper: builds the cell from the constructor arguments and picks the loop."""

    cell_class = None

    def __init__(
        self,
        units,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        zero_output_for_mask=False,
        use_fused="auto",
        use_cudnn="auto",
        **kwargs,
    ):
        check_units(units)
        if not any(use_fused is choice or (isinstance(use_fused, str) and use_fused == choice) for choice in USE_FUSED):
            raise ValueError(f"`use_fused` must be 'auto', True or False; received use_fused={use_fused!r}.")
        if use_cudnn is True:
            raise ValueError("`use_cudnn=True`: kzoo's layers have no cuDNN kernel. Pass use_cudnn='auto' (kzoo's "
                             "fused loop runs where it can) or use_fused=True to require the fused loop.")
        if not (use_cudnn is False or (isinstance(use_cudnn, str) and use_cudnn == "auto")):
            raise ValueError(f"`use_cudnn` must be 'auto', True or False; received use_cudnn={use_cudnn!r}.")
        kwargs.pop("implementation", None)  # Keras 2's legacy argument, which Keras 3 accepts and ignores too
        cell_args = self.cell_argument_names()
        cell_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in cell_args}
        cell = self.cell_class(
            units,
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name=f"{self.cell_class.__name__.lower()}",
            **cell_kwargs,
        )
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            zero_output_for_mask=zero_output_for_mask,
            **kwargs,
        )
        self.use_fused = use_fused
        self.use_cudnn = use_cudnn
        if use_fused is True:
            blocker = self.fast_path_blocker(training=False)
            if blocker is not None:
                raise ValueError(f"use_fused=True, but the fused loop cannot run: {blocker}. Pass "
                                 "use_fused='auto' to fall back to Keras's loop.")

    def build(self, sequences_shape, initial_state_shape=None):
        if len(sequences_shape) != 3:
            raise ValueError(
                f"{type(self).__name__} expects `inputs` of rank 3 (batch, time, features); "
                f"received shape {tuple(sequences_shape)}."
            )
        super().build(sequences_shape, initial_state_shape)

    @classmethod
    def cell_argument_names(cls):
        """The constructor arguments that belong to the cell (units aside)."""
        names = set(inspect.signature(cls.cell_class.__init__).parameters)
        names |= set(inspect.signature(RecurrentCell.__init__).parameters)
        return frozenset(names - {"self", "units", "kwargs"})

    @property
    def units(self):
        return self.cell.units

    def __getattr__(self, name):
        # Expose the cell's hyper-parameters (layer.dropout, layer.activation, ...) as Keras's
        # layers do. Only called when normal attribute lookup fails.
        if "cell" in self.__dict__ and name in self.cell_argument_names():
            return getattr(self.__dict__["cell"], name)
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def fast_path_blocker(self, training=False):
        """Why the fused loop cannot run (a sentence), or None when it runs."""
        if getattr(self, "use_fused", "auto") is False:
            return "use_fused=False asks for Keras's generic loop"
        if keras.backend.backend() != "tensorflow":
            return f"the fused loop is written for TensorFlow, the backend is {keras.backend.backend()}"
        if self.unroll:
            return "unroll=True asks for the generic unrolled loop"
        if training and self.cell.recurrent_dropout > 0:
            return "recurrent_dropout applies a mask inside the recurrence"
        return self._rule_blocker()

    def _rule_blocker(self):
        return None

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        blocker = self.fast_path_blocker(training)
        if blocker is not None:
            if self.use_fused is True:
                raise ValueError(f"use_fused=True, but the fused loop cannot run: {blocker}. Pass "
                                 "use_fused='auto' to fall back to Keras's loop.")
            return super().inner_loop(sequences, initial_state, mask=mask, training=training)
        return self._fused_loop(sequences, initial_state, mask, training)

    def _fused_loop(self, sequences, initial_state, mask, training):
        import tensorflow as tf

        from zoo.fused_tf import batch_shards, shard_projections

        # Keras's cells take integer inputs (ops.matmul promotes them); the fused loop computes in the cell's dtype.
        x = tf.cast(sequences, self.cell.compute_dtype)
        if training and self.cell.dropout > 0:
            x = x * tf.expand_dims(self.cell.get_dropout_mask(sequences[:, 0, :]), 1)
        dtype = self.cell.compute_dtype
        weights = (tf.cast(self.cell.kernel, dtype), *self._rule_and_params(dtype))
        # Batch rows never interact, so the batch is cut into one shard per core and the
        # shards' loops run concurrently (each step's small matmul is more efficient on one
        # core than split across two). Rules that allow it get all shards' input projections
        # from one matrix product (``shard_projections``).
        sizes = batch_shards(x)
        if len(sizes) == 1:
            return self._fused_shard(x, list(initial_state), mask, weights)
        split = lambda t: tf.split(t, sizes, axis=0) if t is not None else [None] * len(sizes)
        states = [split(s) for s in initial_state]
        kernel, rule = weights[0], weights[2]
        if rule.project_shards_together and all(isinstance(s, int) for s in sizes) and len(set(sizes)) == 1:
            projections = shard_projections(x, kernel, len(sizes), reverse=self.go_backwards)
            x_parts = [None] * len(sizes)
        else:
            projections, x_parts = [None] * len(sizes), split(x)
        parts = [
            self._fused_shard(x_s, [s[i] for s in states], m_s, weights, zx)
            for i, (x_s, m_s, zx) in enumerate(zip(x_parts, split(mask), projections))
        ]
        last = tf.concat([p[0] for p in parts], axis=0)
        outputs = tf.concat([p[1] for p in parts], axis=0)
        finals = [tf.concat([p[2][j] for p in parts], axis=0) for j in range(len(initial_state))]
        return last, outputs, finals

    def _fused_shard(self, x, initial_state, mask, weights, zx=None):
        """The fused scan over one batch shard; ``zx``, when given, is its time-major input
        projection (already reversed for ``go_backwards``), else it is computed here."""
        import tensorflow as tf

        from zoo.fused_tf import fused_scan

        kernel, input_bias, rule, params = weights
        if mask is not None:
            mask = tf.transpose(tf.cast(mask, tf.bool))
        if self.go_backwards:
            mask = tf.reverse(mask, [0]) if mask is not None else None
        if zx is None:
            xs = tf.transpose(x, [1, 0, 2])
            xs = tf.reverse(xs, [0]) if self.go_backwards else xs
            zx = tf.einsum("tbd,dk->tbk", xs, kernel)
        outputs, last, finals = fused_scan(
            rule, zx, initial_state, params, mask=mask,
            zero_output_for_mask=self.zero_output_for_mask,
            return_sequences=self.return_sequences, input_bias=input_bias,
        )
        outputs = tf.transpose(outputs, [1, 0, 2]) if self.return_sequences else tf.expand_dims(last, 1)
        return last, outputs, finals

    def _rule_and_params(self, dtype):
        """(input bias or None, rule, recurrent params) for the fused scan."""
        raise NotImplementedError(f"{type(self).__name__} must implement _rule_and_params")

    def get_config(self):
        config = super().get_config()
        del config["cell"]
        cell_config = {k: v for k, v in self.cell.get_config().items() if k not in _LAYER_BASE_KEYS}
        return {**config, **cell_config, "use_fused": self.use_fused, "use_cudnn": self.use_cudnn}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _cast(v, dtype):
    return ops.cast(v, dtype)


@keras.saving.register_keras_serializable(package="kzoo")
class ElmanRNN(FusedRNN):
    """Elman RNN layer over ``zoo.ElmanCell``: h_t = φ(x_t·U + h_{t-1}·W + b).

    Takes ``ElmanCell``'s arguments (units, activation, use_bias, initializers, dropout,
    recurrent_dropout, seed, ...) and ``keras.layers.RNN``'s. Same weights as
    ``keras.layers.SimpleRNN``.
    """

    cell_class = ElmanCell

    def _rule_blocker(self):
        name = activation_name(self.cell.activation)
        from zoo.fused_tf import SUPPORTED_ACTIVATIONS

        if name not in SUPPORTED_ACTIVATIONS:
            return f"activation {name!r} has no closed-form derivative in the fused loop"
        return None

    def _rule_and_params(self, dtype):
        from zoo.fused_tf import ElmanRule

        cell = self.cell
        bias = _cast(cell.bias, dtype) if cell.use_bias else None
        return bias, ElmanRule(activation_name(cell.activation)), (_cast(cell.recurrent_kernel, dtype),)


@keras.saving.register_keras_serializable(package="kzoo")
class LinearRNN(FusedRNN):
    """Linear recurrence layer over ``zoo.LinearRecurrentCell``: h_t = W̄·h_{t-1} + Ā·x_t (+ b).

    With ``spectral_radius=ρ`` W̄ is bounded once per call (see ``LinearRecurrentCell``).
    """

    cell_class = LinearRecurrentCell

    def _rule_and_params(self, dtype):
        from zoo.fused_tf import ElmanRule

        cell = self.cell
        bias = _cast(cell.bias, dtype) if cell.use_bias else None
        w_bar = _cast(cell.effective_recurrent_kernel(), dtype)
        return bias, ElmanRule("linear"), (w_bar,)


@keras.saving.register_keras_serializable(package="kzoo")
class LSTM(FusedRNN):
    """LSTM layer over ``zoo.LSTMCell`` (gates i, f, g, o; c_t = f⊙c + i⊙g; h_t = o⊙tanh(c_t)).

    Same weights as ``keras.layers.LSTM``. Takes ``LSTMCell``'s arguments
    (unit_forget_bias, modulation_activation, recurrent_activation, ...).
    """

    cell_class = LSTMCell

    def _rule_blocker(self):
        from zoo.fused_tf import SUPPORTED_ACTIVATIONS

        if activation_name(self.cell.recurrent_activation) != "sigmoid":
            return "the fused LSTM loop needs sigmoid gates (recurrent_activation)"
        if activation_name(self.cell.modulation_activation) not in SUPPORTED_ACTIVATIONS:
            return "modulation_activation has no closed-form derivative in the fused loop"
        if activation_name(self.cell.output_activation) != "tanh":
            return "the fused LSTM loop needs tanh(c_t) in the output (output_activation)"
        return None

    def _rule_and_params(self, dtype):
        from zoo.fused_tf import LSTMRule

        cell = self.cell
        bias = _cast(cell.bias, dtype) if cell.use_bias else None
        rule = LSTMRule(activation_name(cell.modulation_activation))
        return bias, rule, (_cast(cell.recurrent_kernel, dtype),)


@keras.saving.register_keras_serializable(package="kzoo")
class GRU(FusedRNN):
    """GRU layer over ``zoo.GRUCell`` (update z, reset r, candidate h̃; reset_after as Keras).

    Same weights as ``keras.layers.GRU`` with the same ``reset_after``.
    """

    cell_class = GRUCell

    def _rule_blocker(self):
        if activation_name(self.cell.recurrent_activation) != "sigmoid":
            return "the fused GRU loop needs sigmoid gates (recurrent_activation)"
        if activation_name(self.cell.activation) != "tanh":
            return "the fused GRU loop needs a tanh candidate (activation)"
        return None

    def _rule_and_params(self, dtype):
        from zoo.fused_tf import GRUResetAfterRule, GRUResetBeforeRule

        cell, units = self.cell, self.cell.units
        w = _cast(cell.recurrent_kernel, dtype)
        if cell.reset_after:
            if cell.use_bias:
                bias = _cast(cell.bias, dtype)
                return bias[0], GRUResetAfterRule(), (w, bias[1])
            return None, GRUResetAfterRule(), (w, ops.zeros((3 * units,), dtype=dtype))
        bias = _cast(cell.bias, dtype) if cell.use_bias else None
        return bias, GRUResetBeforeRule(), (w[:, : 2 * units], w[:, 2 * units :])
