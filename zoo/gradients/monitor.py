"""``GradientFlowMonitor``: gradient norms per layer and the vanishing ratio ‖∂L/∂h_0‖ / ‖∂L/∂h_T‖ during fit."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from zoo.gradients.jacobians import loss_gradient_norms


class GradientFlowMonitor(keras.callbacks.Callback):
    """Every ``every_n_batches`` training batches, measure on a fixed probe batch ``(x, y)``:

    * ``grad_norm/<layer>``: the L2 norm of ∂L/∂θ over each layer's trainable weights;
    * ``grad_ratio_h0_hT``: ‖∂L/∂h_0‖ / ‖∂L/∂h_T‖ for the recurrent layer (``layer``, default the first),
      well below 1 when gradients vanish before reaching the start of the sequence.

    The figures go into the batch ``logs`` (so other callbacks and the progress bar see them), into
    ``self.history`` (one dict per measurement, with ``step``), into the epoch logs (the last values, so
    ``fit``'s History keeps them) and, with ``log_dir``, into TensorBoard scalars.
    """

    def __init__(self, every_n_batches, x, y, layer=None, loss=None, log_dir=None):
        super().__init__()
        if (isinstance(every_n_batches, bool) or not isinstance(every_n_batches, (int, np.integer))
                or every_n_batches < 1):
            raise ValueError(f"`every_n_batches` must be a positive integer, got {every_n_batches!r}")
        self.every_n_batches = int(every_n_batches)
        self.x, self.y = x, y
        self.layer, self.loss, self.log_dir = layer, loss, log_dir
        self.history = []
        self._writer = tf.summary.create_file_writer(str(log_dir)) if log_dir else None
        self._step = 0
        self._last = {}

    def measure(self) -> dict:
        """The figures above for the model's current weights."""
        model = self.model
        loss = self.loss if self.loss is not None else model.loss
        loss_fn = keras.losses.get(loss)
        with tf.GradientTape() as tape:
            value = tf.reduce_mean(loss_fn(tf.convert_to_tensor(self.y), model(self.x, training=False)))
        figures = {}
        layers = [layer for layer in model.layers if layer.trainable_weights]
        gradients = tape.gradient(value, [layer.trainable_weights for layer in layers])
        for layer, layer_gradients in zip(layers, gradients):
            squares = [tf.reduce_sum(tf.square(g)) for g in layer_gradients if g is not None]
            figures[f"grad_norm/{layer.name}"] = float(np.sqrt(sum(float(s) for s in squares)))
        norms = loss_gradient_norms(model, self.x, self.y, layer=self.layer, loss=loss)
        figures["grad_ratio_h0_hT"] = float(norms[0] / norms[-1]) if norms[-1] > 0 else float("nan")
        return figures

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        if self._step % self.every_n_batches:
            return
        figures = self.measure()
        self._last = figures
        self.history.append({"step": self._step, **figures})
        if logs is not None:
            logs.update(figures)
        if self._writer is not None:
            with self._writer.as_default(step=self._step):
                for name, value in figures.items():
                    tf.summary.scalar(f"gradient_flow/{name}", value)
            self._writer.flush()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs.update(self._last)
