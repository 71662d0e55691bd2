"""A linear recurrence, h_t = W̄·h_{t-1} + Ā·x_t (+ b), with an optional spectral-radius bound."""

import numbers

import keras
import numpy as np
from keras import ops

from zoo.cells.base import RecurrentCell


def bounded_recurrent_matrix(v, spectral_radius):
    """W̄ = V · min(1, ρ / sqrt(‖V‖₁ ‖V‖_∞)).

    For any square V: spectral_radius(W̄) ≤ ‖W̄‖₂ ≤ sqrt(‖W̄‖₁ ‖W̄‖_∞) ≤ ρ (the first
    inequality holds for every induced norm, the second is Hölder's bound on the spectral
    norm). ‖·‖₁ is the largest absolute column sum, ‖·‖_∞ the largest absolute row sum,
    so the bound costs two reductions, needs no eigen-decomposition and is differentiable
    almost everywhere. Whatever values an optimiser gives V, W̄ stays inside the bound; V
    is left untouched when it is already inside (e.g. a diagonal 0.9·I with ρ = 1).
    """
    a = ops.abs(v)
    bound = ops.sqrt(ops.max(ops.sum(a, axis=0)) * ops.max(ops.sum(a, axis=1)))
    rho = ops.cast(spectral_radius, v.dtype)
    scale = ops.minimum(ops.cast(1.0, v.dtype), rho / ops.maximum(bound, ops.cast(1e-12, v.dtype)))
    return v * scale


@keras.saving.register_keras_serializable(package="kzoo")
class LinearRecurrentCell(RecurrentCell):
    """Linear recurrent cell: h_t = W̄·h_{t-1} + Ā·x_t (+ b).

    In Keras's row-vector layout: h_t = h_{t-1}·W̄ + x_t·Ā (+ b), with ``kernel`` Ā
    (input_dim, units) and ``recurrent_kernel`` (units, units). Unrolled,
    h_T = Σ_t W̄^{T−t} Ā x_t: the powers of W̄ decide whether the memory of x_t decays
    (spectral radius < 1), persists (= 1) or explodes (> 1).

    ``spectral_radius=ρ`` (ρ > 0) parametrises W̄ from the trainable ``recurrent_kernel``
    V as ``bounded_recurrent_matrix(V, ρ)``, so W̄'s spectral radius never exceeds ρ
    whatever the optimiser does. ``effective_recurrent_kernel()`` returns W̄. The bound is
    exact in float32; under a reduced-precision policy (bfloat16, float16) the recurrence
    uses W̄ rounded to that dtype, whose spectral radius can exceed ρ by the rounding
    (relative 2⁻⁸ for bfloat16).
    """

    blocks = 1

    def __init__(self, units, use_bias=False, spectral_radius=None, **kwargs):
        super().__init__(units, use_bias=use_bias, **kwargs)
        if spectral_radius is not None:
            if (isinstance(spectral_radius, bool) or not isinstance(spectral_radius, numbers.Real)
                    or not np.isfinite(spectral_radius) or spectral_radius <= 0):
                raise ValueError(
                    "`spectral_radius` must be a positive finite number (the bound ρ on W̄'s "
                    f"largest |eigenvalue|) or None for no bound; received {spectral_radius!r}."
                )
            spectral_radius = float(spectral_radius)
        self.spectral_radius = spectral_radius

    def effective_recurrent_kernel(self):
        """W̄: the recurrent matrix the recurrence uses (bounded when spectral_radius is set)."""
        if self.spectral_radius is None:
            return self.recurrent_kernel
        return bounded_recurrent_matrix(ops.convert_to_tensor(self.recurrent_kernel), self.spectral_radius)

    def call(self, inputs, states, training=False):
        h_tm1 = states[0] if isinstance(states, (list, tuple)) else states
        x = self._dropped_inputs(inputs, training)
        h_rec = self._dropped_state(h_tm1, training)
        w_bar = ops.cast(self.effective_recurrent_kernel(), h_rec.dtype)
        h = ops.matmul(x, self.kernel) + ops.matmul(h_rec, w_bar)
        if self.use_bias:
            h = h + self.bias
        return h, [h] if isinstance(states, (list, tuple)) else h

    def get_config(self):
        return {**super().get_config(), "spectral_radius": self.spectral_radius}


def spectral_radius(matrix_or_cell):
    """max |λ| over the eigenvalues λ of a square matrix, or of a cell's recurrent matrix.

    For a ``LinearRecurrentCell`` this is the effective W̄ (after the spectral-radius bound);
    for an ``ElmanCell`` (or Keras ``SimpleRNNCell``) its W. Gated cells have a
    (units, k·units) recurrent kernel with no single spectral radius: pass a square block.
    """
    if isinstance(matrix_or_cell, keras.Layer):
        cell = matrix_or_cell
        if not cell.built:
            raise ValueError(
                f"{type(cell).__name__} is not built yet: call it on data (or `cell.build("
                "(batch, input_dim))`) before asking for its spectral radius."
            )
        if hasattr(cell, "effective_recurrent_kernel"):
            matrix = cell.effective_recurrent_kernel()
        elif hasattr(cell, "recurrent_kernel"):
            matrix = cell.recurrent_kernel
        else:
            raise ValueError(f"{type(cell).__name__} has no `recurrent_kernel`.")
    else:
        matrix = matrix_or_cell
    m = np.asarray(ops.convert_to_numpy(matrix), dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(
            f"`matrix_or_cell` must be a square matrix (or a cell with a square recurrent "
            f"matrix); received shape {m.shape}. For a gated cell pass one gate's block, "
            "e.g. cell.recurrent_kernel[:, :units]."
        )
    if not np.all(np.isfinite(m)):
        raise ValueError(
            f"the recurrent matrix holds {int(m.size - np.count_nonzero(np.isfinite(m)))} NaN or Inf values, so it "
            "has no spectral radius: training diverged (lower the learning rate, clip the gradients, or bound the "
            "recurrence with spectral_radius=)."
        )
    return float(np.max(np.abs(np.linalg.eigvals(m)))) if m.size else 0.0
