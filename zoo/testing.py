"""The checks every kzoo layer, model and preset must pass, as one call each (in the manner of Keras's
``run_layer_test`` and keras-hub's ``run_preset_test``); kzoo's own tests run them on every class it registers.

* :func:`run_layer_test`: the config round trip, a ``.keras`` save and load with ``safe_mode=True`` (no
  ``custom_objects``), both giving the same outputs, and one step of ``fit`` that moves the weights and keeps the
  loss finite.
* :func:`run_preset_test`: a preset loads with its kind, saves and loads again to the same outputs, and its
  outputs on fixed inputs equal the pinned ones (so a changed preset or a changed numerical path is noticed).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np


def _numpy(outputs):
    import keras

    if isinstance(outputs, dict):
        return {key: _numpy(value) for key, value in outputs.items()}
    if isinstance(outputs, (list, tuple)):
        return [_numpy(value) for value in outputs]
    return np.asarray(keras.ops.convert_to_numpy(outputs))


def assert_same_outputs(expected, actual, atol=1e-5, what="outputs"):
    """Equal nests of arrays (dicts, lists), to ``atol``."""
    if isinstance(expected, dict):
        assert sorted(expected) == sorted(actual), f"{what}: keys {sorted(expected)} != {sorted(actual)}"
        for key in expected:
            assert_same_outputs(expected[key], actual[key], atol, f"{what}[{key!r}]")
    elif isinstance(expected, list):
        assert len(expected) == len(actual), f"{what}: {len(expected)} != {len(actual)} outputs"
        for index, (one, other) in enumerate(zip(expected, actual)):
            assert_same_outputs(one, other, atol, f"{what}[{index}]")
    else:
        np.testing.assert_allclose(actual, expected, atol=atol, rtol=0, err_msg=what)


def run_layer_test(layer, inputs, expected_output_shape=None, call_kwargs=None, fit=True, atol=1e-5):
    """Check a built-or-not ``layer`` (or model) on ``inputs``:

    1. ``type(layer).from_config(layer.get_config())`` has the same config and, with the same weights, the same
       outputs;
    2. inside a ``keras.Model``, a ``.keras`` file loaded with ``safe_mode=True`` and no ``custom_objects``
       gives the same outputs (the class is registered as serializable);
    3. with ``fit``, one step of ``fit`` (MSE to zeros through a Dense head on each output's last axis) keeps
       the loss finite and changes the layer's trainable weights.

    ``expected_output_shape`` (a tuple, or a list of tuples) is checked against the outputs. Returns the
    outputs as NumPy arrays.
    """
    import keras

    call_kwargs = dict(call_kwargs or {})
    outputs = _numpy(layer(inputs, **call_kwargs))
    if expected_output_shape is not None:
        shapes = [o.shape for o in outputs] if isinstance(outputs, list) else outputs.shape
        expected = ([tuple(s) for s in expected_output_shape] if isinstance(expected_output_shape, list)
                    else tuple(expected_output_shape))
        assert shapes == expected, f"output shape {shapes}, expected {expected}"

    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config, "from_config(get_config()) changed the config"
    clone(inputs, **call_kwargs)
    try:
        clone.set_weights(layer.get_weights())
    except ValueError as error:
        raise AssertionError(f"from_config(get_config()) built a layer with other weights: {error}") from error
    assert_same_outputs(outputs, _numpy(clone(inputs, **call_kwargs)), atol, "outputs after from_config")

    x = keras.Input(tuple(np.shape(inputs))[1:], dtype=str(np.asarray(inputs).dtype), batch_size=None)
    y = layer(x, **call_kwargs)
    model = keras.Model(x, y)
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "model.keras"
        model.save(path)
        loaded = keras.saving.load_model(path, safe_mode=True)
    assert_same_outputs(outputs, _numpy(loaded(inputs)), atol, "outputs after .keras save/load")

    if fit:
        heads = [keras.layers.Dense(1)(output) for output in keras.tree.flatten(y)]
        trainer = keras.Model(x, heads)
        trainer.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
        before = [np.array(w) for w in layer.trainable_weights]
        targets = [np.zeros(tuple(np.shape(o)[:-1]) + (1,), "float32") for o in keras.tree.flatten(outputs)]
        history = trainer.fit(inputs, targets, epochs=1, batch_size=len(inputs), verbose=0)
        assert np.isfinite(history.history["loss"][-1]), "fit gave a non-finite loss"
        if before:
            moved = any(not np.allclose(a, np.array(b)) for a, b in zip(before, layer.trainable_weights))
            assert moved, "one fit step left every trainable weight unchanged"
    return outputs


def run_preset_test(name, inputs_for, pinned, atol=1e-4, kind=None):
    """Check the bundled preset ``name``: it loads (as ``kind`` when given), ``inputs_for(model)`` gives
    outputs equal to ``pinned`` (a nest of arrays; pin them from a known-good build), and a ``.keras`` save and
    ``safe_mode`` load of it gives the same outputs. ``inputs_for`` returns ``(callable, args)``: the outputs are
    ``callable(model, *args)``, so that a preset may be checked through its own API (``generate``, ``sample``)."""
    import keras

    from zoo.presets import load

    model = load(name, kind=kind)
    function, args = inputs_for(model)
    outputs = _numpy(function(model, *args))
    assert_same_outputs(_numpy(pinned), outputs, atol, f"{name}: outputs against the pinned ones")
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "model.keras"
        model.save(path)
        loaded = keras.saving.load_model(path, safe_mode=True)
    assert_same_outputs(outputs, _numpy(function(loaded, *args)), atol, f"{name}: outputs after save/load")
    return outputs
