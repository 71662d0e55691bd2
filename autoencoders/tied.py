"""Tied-weight autoencoders: the decoder reuses the transposed encoder kernels, W_{N-l+1} = W_lᵀ.

Tying halves the weights of a symmetric autoencoder and is what an RBM stack unrolled into an autoencoder
starts from (Hinton & Salakhutdinov 2006).
"""

from __future__ import annotations

import keras
from keras import activations, ops


def _check_sizes(layer_sizes) -> list[int]:
    try:
        sizes = [int(size) for size in layer_sizes]
    except (TypeError, ValueError):
        raise TypeError(f"layer_sizes must be a list of positive integers, got {layer_sizes!r}") from None
    if len(sizes) < 2 or min(sizes) < 1 or any(size != raw for size, raw in zip(sizes, layer_sizes)):
        raise ValueError(f"layer_sizes must be [input_dim, h_1, ..., code_dim] with at least two positive "
                         f"integers, got {layer_sizes!r}")
    return sizes


def untied_param_count(layer_sizes) -> int:
    """Parameters of the same symmetric autoencoder with an independent decoder (for comparison)."""
    sizes = _check_sizes(layer_sizes)
    encoder = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    decoder = sum(b * a + a for a, b in zip(sizes[:-1], sizes[1:]))
    return encoder + decoder


@keras.saving.register_keras_serializable(package="kzoo")
class DenseTied(keras.Layer):
    """y = φ(x·Wᵀ + b), where W is the kernel of another ``keras.layers.Dense`` layer (shared, not copied).

    The layer owns only its bias b (of size W's input dimension). Gradients flow into the tied kernel from
    both layers. The tie is an object reference, so it is rebuilt by the model that owns both layers
    (see :class:`TiedAutoencoder`); ``get_config`` records the tied layer's name for inspection only.
    """

    def __init__(self, tied_to, activation=None, use_bias=True, **kwargs):
        super().__init__(**kwargs)
        if isinstance(tied_to, str):
            raise TypeError(f"DenseTied(tied_to={tied_to!r}): tied_to must be the keras.layers.Dense layer "
                            f"object whose kernel is shared, not its name; a DenseTied is restored by the "
                            f"model that owns both layers (e.g. TiedAutoencoder)")
        if not isinstance(tied_to, keras.layers.Dense):
            raise TypeError(f"tied_to must be a keras.layers.Dense layer, got {type(tied_to).__name__}")
        # Bypass attribute tracking: the tied layer's weights belong to it, not to this layer.
        object.__setattr__(self, "_tied_to", tied_to)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)

    @property
    def tied_to(self):
        return self._tied_to

    @property
    def kernel(self):
        """Wᵀ, shape (tied units, tied input dim)."""
        return ops.transpose(self._tied_to.kernel)

    def build(self, input_shape):
        if not self._tied_to.built:
            raise ValueError(f"DenseTied {self.name}: build the tied layer {self._tied_to.name} first "
                             f"(call it on an input) so its kernel exists")
        units, width = self._tied_to.kernel.shape[1], input_shape[-1]
        if width is not None and width != units:
            raise ValueError(f"DenseTied {self.name} tied to {self._tied_to.name} expects inputs with "
                             f"{units} features (the tied layer's units), got {width}")
        if self.use_bias:
            self.bias = self.add_weight(shape=(self._tied_to.kernel.shape[0],), initializer="zeros",
                                        name="bias")

    def call(self, inputs):
        outputs = ops.matmul(inputs, ops.transpose(self._tied_to.kernel))
        if self.use_bias:
            outputs = outputs + self.bias
        return self.activation(outputs)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self._tied_to.kernel.shape[0])

    def get_config(self):
        return {**super().get_config(), "tied_to": self._tied_to.name,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias}


@keras.saving.register_keras_serializable(package="kzoo")
class TiedAutoencoder(keras.Model):
    """Symmetric autoencoder x → h_1 → … → code → … → h_1 → x̂ whose decoder layers are all tied.

    Encoder layer l: h_l = φ(h_{l-1} W_l + a_l); decoder layer N-l+1: φ'(· W_lᵀ + b_l), where φ' is
    ``output_activation`` on the last layer and ``activation`` elsewhere. Parameters: the encoder's plus
    the decoder biases (for [64, 32, 16]: 2,704 instead of 5,264 untied).
    """

    def __init__(self, layer_sizes, activation="relu", output_activation="sigmoid", **kwargs):
        super().__init__(**kwargs)
        self.layer_sizes = _check_sizes(layer_sizes)
        self.activation = activations.get(activation)
        self.output_activation = activations.get(output_activation)
        sizes = self.layer_sizes
        self.encoder_layers = [keras.layers.Dense(units, activation=self.activation, name=f"encoder_{index}")
                               for index, units in enumerate(sizes[1:], start=1)]
        self.decoder_layers = []
        for index, tied in enumerate(reversed(self.encoder_layers), start=1):
            last = index == len(self.encoder_layers)
            self.decoder_layers.append(DenseTied(
                tied, activation=self.output_activation if last else self.activation, name=f"decoder_{index}"))
        self.build((None, sizes[0]))

    def build(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.encoder_layers + self.decoder_layers:
            if not layer.built:
                layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self.built = True

    def encode(self, inputs):
        for layer in self.encoder_layers:
            inputs = layer(inputs)
        return inputs

    def decode(self, code):
        for layer in self.decoder_layers:
            code = layer(code)
        return code

    def call(self, inputs):
        return self.decode(self.encode(inputs))

    def get_config(self):
        return {**super().get_config(), "layer_sizes": list(self.layer_sizes),
                "activation": activations.serialize(self.activation),
                "output_activation": activations.serialize(self.output_activation)}
