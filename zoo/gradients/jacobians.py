"""How far back gradients reach: ‖∂h_T/∂h_t‖ through a recurrent cell, and ‖∂L/∂h_t‖ inside a model.

By the chain rule ∂h_T/∂h_t = Π_{j=t+1..T} ∂h_j/∂h_{j−1}. For an Elman cell the step Jacobian is
diag(φ'(a_j))·Wᵀ, so ‖∂h_T/∂h_t‖ ≤ (γ·‖W‖)^{T−t} with γ = sup|φ'|: the norm vanishes geometrically when
γ·‖W‖ < 1 and can explode when the largest eigenvalue of the step Jacobian exceeds 1
(Bengio, Simard & Frasconi 1994; Pascanu, Mikolov & Bengio 2013).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf


def _cell_of(layer_or_cell):
    if isinstance(layer_or_cell, keras.layers.RNN):
        return layer_or_cell.cell
    if isinstance(layer_or_cell, keras.Layer) and hasattr(layer_or_cell, "state_size"):
        return layer_or_cell
    raise TypeError(
        "`layer_or_cell` must be a recurrent cell (anything with `state_size`, e.g. zoo.LSTMCell or "
        f"keras.layers.GRUCell) or a keras.layers.RNN layer over one; got {type(layer_or_cell).__name__}")


def _state_sizes(cell):
    sizes = cell.state_size
    sizes = list(sizes) if isinstance(sizes, (list, tuple)) else [sizes]
    if not all(isinstance(size, (int, np.integer)) for size in sizes):
        raise ValueError(f"{type(cell).__name__} has non-vector states {sizes}; only flat states are supported")
    return [int(size) for size in sizes]


def _as_sequences(inputs, dtype):
    inputs = tf.convert_to_tensor(inputs, dtype=dtype)
    if inputs.shape.rank != 3 or inputs.shape[1] == 0:
        raise ValueError(f"`inputs` must have shape [batch, steps >= 1, features], got {inputs.shape}")
    return inputs


def state_jacobians(layer_or_cell, inputs, initial_state=None):
    """Run a cell over ``inputs`` [B, T, D]; return the states and the step Jacobians of the full state.

    The full state s_t is the concatenation of the cell's states (h for Elman/GRU, [h, c] for an LSTM).
    Returns ``(states, jacobians)``: ``states`` [B, T+1, S] (s_0..s_T) and ``jacobians`` [T, B, S, S] with
    ``jacobians[t-1] = ∂s_t/∂s_{t−1}`` (row i = output component, column j = input component), in float64.
    """
    cell = _cell_of(layer_or_cell)
    dtype = cell.compute_dtype or "float32"
    inputs = _as_sequences(inputs, dtype)
    if not cell.built:
        cell.build((None, inputs.shape[-1]))
    sizes = _state_sizes(cell)
    batch = inputs.shape[0]
    if initial_state is None:
        state = tf.zeros((batch, sum(sizes)), dtype=dtype)
    else:
        parts = initial_state if isinstance(initial_state, (list, tuple)) else [initial_state]
        state = tf.concat([tf.convert_to_tensor(part, dtype=dtype) for part in parts], axis=-1)
        if tuple(state.shape) != (batch, sum(sizes)):
            raise ValueError(f"`initial_state` must give states of sizes {sizes} for a batch of {batch}, "
                             f"got shape {tuple(state.shape)}")

    @tf.function(reduce_retracing=True)
    def step(x_t, state):
        with tf.GradientTape() as tape:
            tape.watch(state)
            _, new_states = cell(x_t, tf.split(state, sizes, axis=-1), training=False)
            new_states = new_states if isinstance(new_states, (list, tuple)) else [new_states]
            new_state = tf.concat(list(new_states), axis=-1)
        return new_state, tape.batch_jacobian(new_state, state)

    states, jacobians = [state.numpy().astype(np.float64)], []
    for t in range(inputs.shape[1]):
        state, jacobian = step(inputs[:, t], state)
        states.append(state.numpy().astype(np.float64))
        jacobians.append(jacobian.numpy().astype(np.float64))
    return np.stack(states, axis=1), np.stack(jacobians)


def jacobian_norms(layer_or_cell, inputs, state_index=0, initial_state=None):
    """‖∂h_T/∂h_t‖₂ for t = 0..T: the spectral norm of the Jacobian, averaged over the batch.

    ``layer_or_cell``: any zoo or Keras cell, or a ``keras.layers.RNN`` (zoo's fused layers included) over one.
    ``inputs``: [B, T, D]. The states start at zero (or ``initial_state``). For cells with several states
    (an LSTM's h and c), ``state_index`` picks the block: 0 gives ∂h_T/∂h_t, 1 gives ∂c_T/∂c_t, each a block of
    the Jacobian of the full state (the other states held fixed at step t). Returns float64 [T+1]; entry T is
    ‖I‖ = 1.
    """
    cell = _cell_of(layer_or_cell)
    sizes = _state_sizes(cell)
    if not isinstance(state_index, (int, np.integer)) or not 0 <= state_index < len(sizes):
        raise ValueError(f"`state_index` must be in 0..{len(sizes) - 1} for {type(cell).__name__}, "
                         f"got {state_index!r}")
    start = sum(sizes[:state_index])
    block = slice(start, start + sizes[state_index])
    _, jacobians = state_jacobians(cell, inputs, initial_state)
    steps, batch, size, _ = jacobians.shape
    product = np.broadcast_to(np.eye(size), (batch, size, size))  # ∂s_T/∂s_T
    norms = np.empty(steps + 1)
    norms[steps] = np.linalg.norm(product[:, block, block], ord=2, axis=(1, 2)).mean()
    for t in range(steps - 1, -1, -1):
        product = product @ jacobians[t]  # ∂s_T/∂s_t = ∂s_T/∂s_{t+1} · ∂s_{t+1}/∂s_t
        norms[t] = np.linalg.norm(product[:, block, block], ord=2, axis=(1, 2)).mean()
    return norms


def decay_rate(norms) -> float:
    """The per-step factor r of a geometric fit ‖∂h_T/∂h_t‖ ≈ C·r^{T−t} (least squares on log norms).

    r < 1: gradients vanish; r > 1: they explode. Zero norms (exact underflow) are left out of the fit.
    """
    norms = np.asarray(norms, dtype=np.float64)
    distance = np.arange(len(norms))[::-1]  # T − t
    keep = norms > 0
    if keep.sum() < 2:
        raise ValueError("need at least two positive norms to fit a decay rate")
    slope = np.polyfit(distance[keep], np.log(norms[keep]), 1)[0]
    return float(np.exp(slope))


def _find_recurrent_layer(model, layer):
    if layer is None:
        candidates = [item for item in model.layers if isinstance(item, keras.layers.RNN)]
        if not candidates:
            raise ValueError(f"model {model.name!r} has no keras.layers.RNN layer; pass `layer=`")
        return candidates[0]
    if isinstance(layer, str):
        return model.get_layer(layer)
    if isinstance(layer, keras.layers.RNN):
        return layer
    raise TypeError(f"`layer` must be None, a layer name or a keras.layers.RNN, got {type(layer).__name__}")


def _split_around(model, rnn):
    """(prefix, suffix) callables: model inputs → the RNN's input, and the RNN's output → model output."""
    if isinstance(model, keras.Sequential):
        index = model.layers.index(rnn)
        before, after = model.layers[:index], model.layers[index + 1:]

        def run(layers, value):
            for item in layers:
                value = item(value, training=False)
            return value

        return (lambda x: run(before, x)), (lambda h: run(after, h))
    if len(rnn._inbound_nodes) != 1:
        raise ValueError(f"layer {rnn.name!r} is used {len(rnn._inbound_nodes)} times in the model; "
                         "loss_gradient_norms needs a recurrent layer called once")
    prefix = keras.Model(model.inputs, rnn.input)
    suffix = keras.Model(rnn.output, model.outputs)
    return (lambda x: prefix(x, training=False)), (lambda h: suffix(h, training=False))


def loss_gradient_norms(model, x, y, layer=None, loss=None):
    """‖∂L/∂h_t‖ for t = 0..T, for the recurrent layer ``layer`` (default: the first) inside ``model``.

    The total derivative of the loss with respect to each hidden state h_t, through every later step and the
    layers above, averaged (L2 norm per example) over the batch. Entry 0 is the initial state.

    The layer is unrolled step by step with its own cell so that every h_t is a tensor the tape can see; its
    output is fed to the layers after it. ``loss`` is a Keras loss (name or callable); default: the model's
    compiled loss. Supports ``return_sequences`` both ways and ``go_backwards``; the layer must be called once
    and without a mask.
    """
    rnn = _find_recurrent_layer(model, layer)
    if loss is None:
        if getattr(model, "loss", None) is None:
            raise ValueError("the model is not compiled: pass `loss=` (e.g. 'mse') or compile the model first")
        loss = model.loss
    loss_fn = keras.losses.get(loss)
    prefix, suffix = _split_around(model, rnn)
    cell = rnn.cell
    sizes = _state_sizes(cell)
    inputs = prefix(tf.convert_to_tensor(x))
    if inputs.shape.rank != 3:
        raise ValueError(f"the input of {rnn.name!r} must be [batch, steps, features], got {inputs.shape}")
    if rnn.go_backwards:
        inputs = tf.reverse(inputs, axis=[1])
    batch, steps = inputs.shape[0], inputs.shape[1]
    with tf.GradientTape() as tape:
        states = [tf.zeros((batch, size), dtype=inputs.dtype) for size in sizes]
        hidden = [states[0]]
        tape.watch(hidden[0])
        outputs = []
        for t in range(steps):
            output, states = cell(inputs[:, t], states, training=False)
            states = list(states) if isinstance(states, (list, tuple)) else [states]
            hidden.append(states[0])
            outputs.append(output)
        sequence = tf.stack(outputs, axis=1) if rnn.return_sequences else outputs[-1]
        predictions = suffix(sequence)
        value = tf.reduce_mean(loss_fn(tf.convert_to_tensor(y), predictions))
    gradients = tape.gradient(value, hidden)
    return np.array([float(tf.reduce_mean(tf.norm(gradient, axis=-1))) for gradient in gradients])
