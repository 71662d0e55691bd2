"""The gated recurrent unit (Cho et al. 2014)."""

import keras
from keras import activations, ops

from zoo.cells.base import RecurrentCell, get_activation


@keras.saving.register_keras_serializable(package="kzoo")
class GRUCell(RecurrentCell):
    """GRU cell with update gate z, reset gate r and candidate h̃ (block order z, r, h).

    ``reset_after=False`` (Cho et al. 2014)::

        z = σ(x·U_z + h·W_z + b_z),  r = σ(x·U_r + h·W_r + b_r)
        h̃ = tanh(x·U_h + (r ⊙ h)·W_h + b_h)

    ``reset_after=True`` (the default, as Keras and cuDNN): the reset gate multiplies the
    recurrent product instead, and recurrent and input projections have separate biases
    (``bias`` has shape (2, 3·units): row 0 input, row 1 recurrent)::

        h̃ = tanh(x·U_h + b_h + r ⊙ (h·W_h + b'_h))

    Update rule, as Keras: h_t = z ⊙ h_{t-1} + (1 − z) ⊙ h̃.

    The textbook form h_t = (1 − z') ⊙ h_{t-1} + z' ⊙ h̃ is the same model with the
    update-gate weights and bias negated: since σ(−a) = 1 − σ(a), negating U_z, W_z and b_z
    (and both bias rows of z when reset_after) turns z into z' = 1 − z. ``tests`` prove it.
    """

    blocks = 3

    def __init__(self, units, reset_after=True, activation="tanh", recurrent_activation="sigmoid", **kwargs):
        super().__init__(units, **kwargs)
        self.reset_after = bool(reset_after)
        self.activation = get_activation(activation, "activation")
        self.recurrent_activation = get_activation(recurrent_activation, "recurrent_activation")

    def bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def call(self, inputs, states, training=False):
        h_tm1 = states[0] if isinstance(states, (list, tuple)) else states
        x = self._dropped_inputs(inputs, training)
        h_rec = self._dropped_state(h_tm1, training)
        u = self.units
        x_proj = ops.matmul(x, self.kernel)
        if self.use_bias:
            x_proj = x_proj + (self.bias[0] if self.reset_after else self.bias)
        x_z, x_r, x_h = ops.split(x_proj, 3, axis=-1)
        if self.reset_after:
            rec = ops.matmul(h_rec, self.recurrent_kernel)
            if self.use_bias:
                rec = rec + self.bias[1]
            z = self.recurrent_activation(x_z + rec[:, :u])
            r = self.recurrent_activation(x_r + rec[:, u : 2 * u])
            hh = self.activation(x_h + r * rec[:, 2 * u :])
        else:
            rec = ops.matmul(h_rec, self.recurrent_kernel[:, : 2 * u])
            z = self.recurrent_activation(x_z + rec[:, :u])
            r = self.recurrent_activation(x_r + rec[:, u:])
            hh = self.activation(x_h + ops.matmul(r * h_rec, self.recurrent_kernel[:, 2 * u :]))
        h = z * h_tm1 + (1.0 - z) * hh
        return h, [h] if isinstance(states, (list, tuple)) else h

    def get_config(self):
        return {
            **super().get_config(),
            "reset_after": self.reset_after,
            "activation": activations.serialize(self.activation),
            "recurrent_activation": activations.serialize(self.recurrent_activation),
        }
