"""Each use of Keras internals (zoo/keras_private.py) against the installed Keras: these fail loudly when a Keras
release moves what kzoo relies on, instead of kzoo silently doing nothing."""

import keras
import numpy as np
import pytest

from zoo import keras_private


def test_dropout_mixin_is_the_one_keras_rnn_checks():
    from zoo.cells import LSTMCell

    mixin = keras_private.dropout_rnn_cell_mixin()
    assert mixin.__name__ == "DropoutRNNCell" and hasattr(mixin, "get_dropout_mask")
    assert issubclass(LSTMCell, mixin) and issubclass(keras.layers.LSTMCell, mixin)
    # keras.layers.RNN caches one dropout mask per sequence for cells of this mixin: with dropout, two calls in
    # training mode differ but the masks come from the cell's own get_dropout_mask.
    cell = LSTMCell(3, dropout=0.5)
    layer = keras.layers.RNN(cell)
    x = np.ones((2, 4, 5), np.float32)
    layer(x, training=True)
    assert cell.get_dropout_mask(x[:, 0]) is not None


def test_set_initial_epoch_makes_fit_start_there():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    epochs = []

    class Restore(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            keras_private.set_initial_epoch(self.model, 2)

        def on_epoch_begin(self, epoch, logs=None):
            epochs.append(epoch)

    model.fit(np.zeros((4, 2)), np.zeros((4, 1)), epochs=4, verbose=0, callbacks=[Restore()])
    assert epochs == [2, 3]
    keras_private.set_initial_epoch(model, None)


def test_set_initial_epoch_fails_loudly_when_keras_moves_it():
    with pytest.raises(RuntimeError, match="_initial_epoch"):
        keras_private.set_initial_epoch(object(), 1)


def test_multiworker_patch_finds_the_trainer_internals():
    from keras.src.backend.tensorflow import trainer

    keras_private.patch_trainer_for_multiworker()
    assert trainer._kzoo_multiworker_patch
    keras_private.patch_trainer_for_multiworker()  # idempotent


def test_multiworker_patch_fails_loudly_when_keras_moves_it(monkeypatch):
    from keras.src.backend.tensorflow import trainer

    monkeypatch.setattr(trainer, "_kzoo_multiworker_patch", False, raising=False)
    monkeypatch.delattr(trainer, "reduce_per_replica")
    with pytest.raises(RuntimeError, match="moved the TensorFlow trainer internals"):
        keras_private.patch_trainer_for_multiworker()
