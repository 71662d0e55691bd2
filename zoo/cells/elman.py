"""The Elman (vanilla) recurrent cell (Elman 1990)."""

import keras
from keras import activations, ops

from zoo.cells.base import RecurrentCell, get_activation


@keras.saving.register_keras_serializable(package="kzoo")
class ElmanCell(RecurrentCell):
    """Elman cell: h_t = φ(x_t·U + h_{t-1}·W + b), output y_t = h_t.

    Weights as ``keras.layers.SimpleRNNCell``: ``kernel`` U (input_dim, units),
    ``recurrent_kernel`` W (units, units), ``bias`` b (units,).

    Args:
        units: size of h.
        activation: φ, any Keras activation ('tanh' default, 'sigmoid', 'relu', ...).
        dropout, recurrent_dropout: rates of the per-sequence masks on x_t and h_{t-1}.
        The remaining arguments are Keras's initializers/regularizers/constraints.
    """

    blocks = 1

    def __init__(self, units, activation="tanh", **kwargs):
        super().__init__(units, **kwargs)
        self.activation = get_activation(activation, "activation")

    def call(self, inputs, states, training=False):
        h_tm1 = states[0] if isinstance(states, (list, tuple)) else states
        x = self._dropped_inputs(inputs, training)
        h_rec = self._dropped_state(h_tm1, training)
        a = ops.matmul(x, self.kernel)
        if self.use_bias:
            a = a + self.bias
        a = a + ops.matmul(h_rec, self.recurrent_kernel)
        h = self.activation(a)
        return h, [h] if isinstance(states, (list, tuple)) else h

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}
