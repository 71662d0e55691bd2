"""The long short-term memory cell (Hochreiter & Schmidhuber 1997; forget gate: Gers et al. 2000)."""

import keras
from keras import activations, initializers, ops

from zoo.cells.base import RecurrentCell, activation_name, get_activation


@keras.saving.register_keras_serializable(package="kzoo")
class LSTMCell(RecurrentCell):
    """LSTM cell with input, forget and output gates and an input-modulation gate.

    With z = x_t·U + h_{t-1}·W + b split into four blocks (order i, f, g, o, as Keras)::

        i = σ(z_i)          input gate
        f = σ(z_f)          forget gate
        g = ψ(z_g)          input modulation (candidate), ψ = tanh by default
        o = σ(z_o)          output gate
        c_t = f ⊙ c_{t-1} + i ⊙ g
        h_t = o ⊙ χ(c_t)    χ = tanh by default

    States are [h, c]; the output is h. ψ is ``modulation_activation``: with tanh, g can
    subtract from the cell state; with a sigmoid, g ∈ (0, 1) only adds, so c drifts upward
    step after step (kzoo's gradient-flow tools measure this). With ψ = χ = tanh and σ =
    sigmoid the cell equals ``keras.layers.LSTMCell`` weight for weight.

    Args:
        units: size of h and c.
        unit_forget_bias: initialise b_f to 1 (Jozefowicz et al. 2015), so the cell starts
            out remembering.
        modulation_activation: ψ.
        recurrent_activation: σ, the gate activation ('sigmoid').
        output_activation: χ.
        activation: Keras's name for ψ and χ together (``keras.layers.LSTMCell(activation=...)``);
            when given it sets both, and ``modulation_activation`` / ``output_activation`` must be
            left at their defaults.
    """

    blocks = 4

    def __init__(
        self,
        units,
        unit_forget_bias=True,
        modulation_activation="tanh",
        recurrent_activation="sigmoid",
        output_activation="tanh",
        activation=None,
        **kwargs,
    ):
        super().__init__(units, **kwargs)
        if activation is not None:
            if {activation_name(get_activation(modulation_activation, "modulation_activation")),
                    activation_name(get_activation(output_activation, "output_activation"))} != {"tanh"}:
                raise ValueError("`activation` sets both `modulation_activation` and `output_activation`; pass "
                                 f"either it or them, not both (received activation={activation!r}, "
                                 f"modulation_activation={modulation_activation!r}, "
                                 f"output_activation={output_activation!r}).")
            modulation_activation = output_activation = activation
        self.unit_forget_bias = bool(unit_forget_bias)
        self.modulation_activation = get_activation(modulation_activation, "modulation_activation")
        self.recurrent_activation = get_activation(recurrent_activation, "recurrent_activation")
        self.output_activation = get_activation(output_activation, "output_activation")

    @property
    def activation(self):
        """χ, the activation of the cell state in the output (Keras's ``LSTMCell.activation``)."""
        return self.output_activation

    @property
    def state_size(self):
        return [self.units, self.units]

    def bias_init(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        units, base, ones = self.units, self.bias_initializer, initializers.get("ones")

        def init(_, *args, **kwargs):
            return ops.concatenate(
                [base((units,), *args, **kwargs), ones((units,), *args, **kwargs),
                 base((2 * units,), *args, **kwargs)]
            )

        return init

    def call(self, inputs, states, training=False):
        h_tm1, c_tm1 = states[0], states[1]
        x = self._dropped_inputs(inputs, training)
        h_rec = self._dropped_state(h_tm1, training)
        z = ops.matmul(x, self.kernel) + ops.matmul(h_rec, self.recurrent_kernel)
        if self.use_bias:
            z = z + self.bias
        z_i, z_f, z_g, z_o = ops.split(z, 4, axis=-1)
        i = self.recurrent_activation(z_i)
        f = self.recurrent_activation(z_f)
        g = self.modulation_activation(z_g)
        o = self.recurrent_activation(z_o)
        c = f * c_tm1 + i * g
        h = o * self.output_activation(c)
        return h, [h, c]

    def get_config(self):
        return {
            **super().get_config(),
            "unit_forget_bias": self.unit_forget_bias,
            "modulation_activation": activations.serialize(self.modulation_activation),
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "output_activation": activations.serialize(self.output_activation),
            "activation": None,  # an alias, already resolved into the two above
        }
