"""Shared plumbing for kzoo's recurrent cells.

A cell owns the equations of one time step: ``call(x_t, states) -> (y_t, new_states)``.
Everything that is not the equations lives here: argument validation, initializers,
regularizers, constraints, dropout masks and the config round trip. Weight names and
layouts follow Keras (``kernel (input_dim, k*units)``, ``recurrent_kernel (units,
k*units)``, ``bias``), so ``zoo_cell.set_weights(keras_cell.get_weights())`` gives the
same function.
"""

import numbers

import keras
from keras import activations, constraints, initializers, ops, regularizers

from zoo.keras_private import dropout_rnn_cell_mixin

# Keras's RNN layer creates, caches and resets per-sequence dropout masks for cells that
# inherit this mixin (it checks with isinstance), so a kzoo cell behaves like a Keras
# cell inside keras.layers.RNN.
DropoutRNNCell = dropout_rnn_cell_mixin()


def check_units(units, name="units"):
    """Return ``units`` as an int, or raise ValueError naming the argument."""
    if isinstance(units, bool) or not isinstance(units, numbers.Integral) or units <= 0:
        raise ValueError(
            f"`{name}` must be a positive integer (the size of the hidden state); "
            f"received {name}={units!r}."
        )
    return int(units)


def check_rate(rate, name):
    """Return a dropout rate in [0, 1), or raise ValueError naming the argument."""
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0.0 <= rate < 1.0:
        raise ValueError(
            f"`{name}` must be a float in [0, 1) (the fraction of units to drop); "
            f"received {name}={rate!r}."
        )
    return float(rate)


def get_activation(identifier, name):
    """Resolve a Keras activation, or raise ValueError naming the argument."""
    if identifier is None:
        return activations.get("linear")
    try:
        fn = activations.get(identifier)
    except (ValueError, TypeError) as err:
        raise ValueError(
            f"Unknown activation for `{name}`: {identifier!r}. Use a Keras activation "
            f"name such as 'tanh', 'sigmoid', 'relu' or 'linear', or a callable."
        ) from err
    if fn is None:
        raise ValueError(f"Unknown activation for `{name}`: {identifier!r}.")
    return fn


def activation_name(fn):
    """The Keras name of an activation function ('tanh', 'sigmoid', ...), or None."""
    try:
        name = activations.serialize(fn)
    except (ValueError, TypeError):
        return None
    return name if isinstance(name, str) else None


def check_step_input_shape(input_shape, layer_name):
    """A cell sees one time step (batch, features): the sequence must be rank 3."""
    if len(input_shape) != 2:
        raise ValueError(
            f"{layer_name} expects sequences of rank 3 (batch, time, features), i.e. "
            f"steps of rank 2; received `inputs` with step shape {tuple(input_shape)}."
        )
    if input_shape[-1] is None:
        raise ValueError(
            f"{layer_name} needs a known feature dimension (the last axis of `inputs`); "
            f"received step shape {tuple(input_shape)}."
        )


class RecurrentCell(keras.Layer, DropoutRNNCell):
    """Base class: the arguments every kzoo cell shares with Keras's cells.

    Subclasses set ``blocks`` (k: how many ``units``-wide blocks the kernels hold, e.g.
    4 for the LSTM gates i, f, g, o) and implement ``call``.
    """

    blocks = 1

    def __init__(
        self,
        units,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        **kwargs,
    ):
        kwargs.pop("implementation", None)  # Keras 2's legacy argument, which Keras 3's cells accept and ignore
        super().__init__(**kwargs)
        self.units = check_units(units)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout = check_rate(dropout, "dropout")
        self.recurrent_dropout = check_rate(recurrent_dropout, "recurrent_dropout")
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed=seed)

    # Keras's RNN reads these two attributes.
    @property
    def state_size(self):
        return self.units

    @property
    def output_size(self):
        return self.units

    def _add_kernels(self, input_dim):
        self.kernel = self.add_weight(
            shape=(input_dim, self.blocks * self.units),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, self.blocks * self.units),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )

    def _add_bias(self, shape, initializer=None):
        self.bias = self.add_weight(
            shape=shape,
            name="bias",
            initializer=initializer or self.bias_initializer,
            regularizer=self.bias_regularizer,
            constraint=self.bias_constraint,
        )

    def build(self, input_shape):
        check_step_input_shape(input_shape, type(self).__name__)
        self._add_kernels(input_shape[-1])
        self.bias = None
        if self.use_bias:
            self._add_bias(self.bias_shape(), self.bias_init())

    def bias_shape(self):
        return (self.blocks * self.units,)

    def bias_init(self):
        return self.bias_initializer

    def _dropped_inputs(self, inputs, training):
        """x_t ⊙ m: one Bernoulli mask per sequence, reused at every step (Gal & Ghahramani)."""
        if training and self.dropout > 0.0:
            return inputs * self.get_dropout_mask(inputs)
        return inputs

    def _dropped_state(self, h_tm1, training):
        if training and self.recurrent_dropout > 0.0:
            return h_tm1 * self.get_recurrent_dropout_mask(h_tm1)
        return h_tm1

    def get_initial_state(self, batch_size=None):
        sizes = self.state_size if isinstance(self.state_size, (list, tuple)) else [self.state_size]
        return [ops.zeros((batch_size, d), dtype=self.compute_dtype) for d in sizes]

    def get_config(self):
        config = {
            "units": self.units,
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }
        return {**super().get_config(), **config}
