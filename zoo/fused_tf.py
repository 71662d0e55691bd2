"""Fused recurrent loops for TensorFlow, with backpropagation through time written out.

The fused layers in ``zoo.layers`` compute the input projection of every time step in one
matrix product, X·U for all (t, batch) rows at once, and hand it with the bias b to
``fused_scan``. The scan adds b and runs the recurrent part step by step, and its gradient is
not TensorFlow's autodiff of the loop but BPTT written by hand (``tf.custom_gradient``):

* backward through time, each step computes the gradient of its pre-activations
  δz_t from ∂L/∂h_t (and ∂L/∂c_t) and sends δz_t·Wᵀ to step t−1 — one matrix product
  per step, nothing accumulated inside the loop;
* after the loop, the weight gradients are single large products over all steps,
  ∂L/∂W = Σ_t h_{t-1}ᵀ δz_t = H_prevᵀ·Δ (and ∂L/∂U = Xᵀ·Δ, the projection's gradient).

Masking follows ``keras.layers.RNN``: at a masked step the states are carried over and the
output repeats the previous output (or is zero with ``zero_output_for_mask``).

Each ``*Rule`` (a :class:`RecurrenceRule`) holds one cell's step: ``forward(zx, states, params) -> (new_states,
saved)``; the factors of each step's Jacobian that do not depend on the incoming gradient
are either saved by ``forward`` (LSTM, GRU: XLA fuses them into the step) or handed to
the backward loop by ``coefficients(states0, h_seq, saved_seqs, params)``, which
may compute them for all steps at once (Elman hands over h_t, from which each backward
step forms φ'(a_t));
``backward_step(d_new_states, coefficients_t, bparams) -> (δzx, δrec or None when
it equals δzx, d_prev_states)`` chains one step, with ``bparams =
backward_params(params)`` (Wᵀ, made once by the forward computation)
or ``params`` when ``backward_params`` is None; ``param_grads`` turns the stacked δ's
into weight gradients. Few operations per step matter more than few FLOPs: on a CPU the
per-operation cost inside a loop is of the order of a small step's matmul.
"""

import os

import tensorflow as tf

from zoo.cpus import usable_cpus

_OUTPUT_DERIVATIVES = {
    # φ'(a) written in terms of y = φ(a).
    "tanh": lambda y: 1.0 - tf.square(y),
    "sigmoid": lambda y: y * (1.0 - y),
    "relu": lambda y: tf.cast(y > 0, y.dtype),
    "linear": lambda y: tf.ones_like(y),
}

SUPPORTED_ACTIVATIONS = frozenset(_OUTPUT_DERIVATIVES)


def _matmul_previous(s0, seq, d_seq):
    """Σ_t s_{t-1}ᵀ·d_t with s_{-1} = s0, for time-major (T, B, n) ``seq`` and (T, B, m) ``d_seq``:
    two products, without building the shifted sequence (a copy of ``seq``)."""
    head = tf.matmul(s0, d_seq[0], transpose_a=True)
    return head + _matmul_seq(seq[:-1], d_seq[1:])


def _matmul_seq(a, b):
    """Sum over (time, batch) of aᵀ·b for time-major (T, B, n) and (T, B, m) stacks."""
    a2 = tf.reshape(a, [-1, tf.shape(a)[-1]])
    b2 = tf.reshape(b, [-1, tf.shape(b)[-1]])
    return tf.matmul(a2, b2, transpose_a=True)


def _transposed(params):
    """Wᵀ for the backward step's δz·Wᵀ. Given W, XLA's dot transposes it again at every
    step; a transposed copy made once does not (bench/README.md has the measurement)."""
    return tuple(tf.transpose(w) for w in params)


_ACTIVATIONS = {"tanh": tf.tanh, "sigmoid": tf.sigmoid, "relu": tf.nn.relu, "linear": tf.identity}


class RecurrenceRule:
    """The defaults every rule shares (the protocol is in the module docstring); a rule sets ``key``,
    ``n_states``, ``forward``, ``backward_step`` and ``param_grads``, and overrides the rest where it differs."""

    param_grads_in_xla = False  # oneDNN, outside XLA: faster (see backward_loop)
    bias_grad_in_xla = True
    project_shards_together = True  # see shard_projections
    n_saved = 0
    separate_recurrent_delta = False
    coefficients = None  # the forward step saves them
    backward_params = staticmethod(_transposed)


class ElmanRule(RecurrenceRule):
    """h_t = φ(zx_t + h_{t-1}·W); also the linear recurrence with φ = identity.

    Backward: δz_t = ∂L/∂h_t ⊙ φ'(a_t), and ∂L/∂h_{t-1} = δz_t·Wᵀ.
    """

    n_states = 1

    def __init__(self, activation="tanh"):
        self.key = ("elman", activation)
        self.act = _ACTIVATIONS[activation]
        self.dact = _OUTPUT_DERIVATIVES[activation]

    def forward(self, zx, states, params):
        (h,), (w,) = states, params
        return (self.act(zx + tf.matmul(h, w)),), ()

    def coefficients(self, states0, h_seq, saved_seqs, params):
        # φ'(a_t) from h_t = φ(a_t), inside the loop step (XLA fuses it into δz_t). At a masked
        # step the state is the carried one, but its gradient there is zero.
        return (h_seq,)

    def backward_step(self, d_new, coeffs, bparams):
        (dh,), (h,), (w_t,) = d_new, coeffs, bparams
        dz = dh * self.dact(h)
        return dz, None, (tf.matmul(dz, w_t),)

    def param_grads(self, states0, h_seq, saved_seqs, dzx_seq, drec_seq, params):
        return (_matmul_previous(states0[0], h_seq, dzx_seq),)


class LSTMRule(RecurrenceRule):
    """z = zx + h·W → (i, f, g, o); c' = f⊙c + i⊙g; h' = o⊙tanh(c').

    Backward, with every factor that does not depend on the incoming gradient saved by the
    forward step (so each backward step is a handful of operations)::

        δc = ∂L/∂c_t + ∂L/∂h_t ⊙ o(1 − tanh²c_t)
        δz = [δc ⊙ g i(1−i),  δc ⊙ c_{t-1} f(1−f),  δc ⊙ i ψ'(g),  ∂L/∂h_t ⊙ tanh(c_t) o(1−o)]
        ∂L/∂h_{t-1} = δz·Wᵀ,   ∂L/∂c_{t-1} = δc ⊙ f
    """

    n_states = 2
    n_saved = 3

    def __init__(self, modulation_activation="tanh"):
        self.key = ("lstm", modulation_activation)
        self.mod = _ACTIVATIONS[modulation_activation]
        self.dmod = _OUTPUT_DERIVATIVES[modulation_activation]

    def forward(self, zx, states, params):
        (h, c), (w,) = states, params
        z_i, z_f, z_g, z_o = tf.split(zx + tf.matmul(h, w), 4, axis=1)
        i, f, g, o = tf.sigmoid(z_i), tf.sigmoid(z_f), self.mod(z_g), tf.sigmoid(z_o)
        c_new = f * c + i * g
        tc = tf.tanh(c_new)
        # The backward factors cost nothing extra here: XLA fuses them into this step.
        gate_factors = tf.concat(
            [g * i * (1.0 - i), c * f * (1.0 - f), i * self.dmod(g), tc * o * (1.0 - o)], axis=1)
        return (o * tc, c_new), (gate_factors, o * (1.0 - tf.square(tc)), f)

    def backward_step(self, d_new, coeffs, bparams):
        (dh, dc_in), (gate_factors, dtanh, f), (w_t,) = d_new, coeffs, bparams
        dc = dc_in + dh * dtanh
        dz = tf.concat([dc, dc, dc, dh], axis=1) * gate_factors
        return dz, None, (tf.matmul(dz, w_t), dc * f)

    def param_grads(self, states0, h_seq, saved_seqs, dzx_seq, drec_seq, params):
        return (_matmul_previous(states0[0], h_seq, dzx_seq),)


class GRUResetAfterRule(RecurrenceRule):
    """rec = h·W + b'; z, r = σ(zx_z + rec_z), σ(zx_r + rec_r); h̃ = tanh(zx_h + r⊙rec_h).

    Backward (h' = h̃ + z⊙(h − h̃)): with a_h the candidate's pre-activation,
    δa_h = ∂L/∂h' ⊙ (1−z)(1−h̃²), δz = ∂L/∂h' ⊙ (h−h̃) z(1−z), δr = δa_h ⊙ rec_h r(1−r);
    the input gets [δz, δr, δa_h], the recurrent product [δz, δr, δa_h ⊙ r], and
    ∂L/∂h = ∂L/∂h' ⊙ z + δrec·Wᵀ.
    """

    n_states = 1
    n_saved = 3
    separate_recurrent_delta = True
    key = ("gru", "reset_after")

    def forward(self, zx, states, params):
        (h,), (w, b_rec) = states, params
        x_z, x_r, x_h = tf.split(zx, 3, axis=1)
        r_z, r_r, r_h = tf.split(tf.matmul(h, w) + b_rec, 3, axis=1)
        z, r = tf.sigmoid(x_z + r_z), tf.sigmoid(x_r + r_r)
        hh = tf.tanh(x_h + r * r_h)
        c_z = (h - hh) * z * (1.0 - z)
        c_h = (1.0 - z) * (1.0 - tf.square(hh))
        c_r = c_h * r_h * r * (1.0 - r)
        # The recurrent product's factors are the input's with c_h⊙r for c_h: saved once.
        return (hh + z * (h - hh),), (tf.concat([c_z, c_r, c_h], 1), c_h * r, z)

    def backward_step(self, d_new, coeffs, bparams):
        (dh,), (c_input, c_hr, z), (w_t, _) = d_new, coeffs, bparams
        dzx = tf.concat([dh, dh, dh], axis=1) * c_input
        units = dh.shape[1] if dh.shape[1] is not None else tf.shape(dh)[1]
        drec = tf.concat([dzx[:, : 2 * units], dh * c_hr], axis=1)
        return dzx, drec, (dh * z + tf.matmul(drec, w_t),)

    def param_grads(self, states0, h_seq, saved_seqs, dzx_seq, drec_seq, params):
        prev = previous_states(states0, (h_seq,))[0]
        return _matmul_seq(prev, drec_seq), tf.reduce_sum(drec_seq, axis=[0, 1])


class GRUResetBeforeRule(RecurrenceRule):
    """z, r = σ(zx_{z,r} + h·W_{z,r}); h̃ = tanh(zx_h + (r⊙h)·W_h). params = (W_zr, W_h).

    Backward: δa_h as above, ∂L/∂(r⊙h) = δa_h·W_hᵀ, δr = ∂L/∂(r⊙h) ⊙ h r(1−r), and
    ∂L/∂h = ∂L/∂h' ⊙ z + ∂L/∂(r⊙h) ⊙ r + [δz, δr]·W_zrᵀ.
    """

    n_states = 1
    n_saved = 5
    separate_recurrent_delta = True
    key = ("gru", "reset_before")

    def forward(self, zx, states, params):
        (h,), (w_zr, w_h) = states, params
        x_z, x_r, x_h = tf.split(zx, 3, axis=1)
        r_z, r_r = tf.split(tf.matmul(h, w_zr), 2, axis=1)
        z, r = tf.sigmoid(x_z + r_z), tf.sigmoid(x_r + r_r)
        hh = tf.tanh(x_h + tf.matmul(r * h, w_h))
        factors = ((h - hh) * z * (1.0 - z), (1.0 - z) * (1.0 - tf.square(hh)),
                   h * r * (1.0 - r), z, r)
        return (hh + z * (h - hh),), factors

    def backward_step(self, d_new, coeffs, bparams):
        (dh,), (c_z, c_h, c_r, z, r), (w_zr_t, w_h_t) = d_new, coeffs, bparams
        da_h = dh * c_h
        d_rh = tf.matmul(da_h, w_h_t)
        dzr = tf.concat([dh * c_z, d_rh * c_r], axis=1)
        dh_prev = dh * z + d_rh * r + tf.matmul(dzr, w_zr_t)
        return tf.concat([dzr, da_h], axis=1), dzr, (dh_prev,)

    def param_grads(self, states0, h_seq, saved_seqs, dzx_seq, drec_seq, params):
        prev_seqs = previous_states(states0, (h_seq,))
        units = tf.shape(prev_seqs[0])[-1]
        r_seq = saved_seqs[4]
        return (_matmul_seq(prev_seqs[0], drec_seq),
                _matmul_seq(r_seq * prev_seqs[0], dzx_seq[..., 2 * units:]))


# The forward and backward loops are compiled with XLA, which fuses a step's element-wise
# work and drops the graph executor's per-operation cost (KZOO_RNN_JIT=0 turns it off, read at
# each trace like KZOO_RNN_SHARDS and KZOO_RNN_UNROLL), and run several time steps per loop
# iteration (unroll_factor); bench/rnn.py measures both.
_COMPILED = {}


def jit_enabled() -> bool:
    """Whether the loops are XLA-compiled: ``KZOO_RNN_JIT`` is not ``0``."""
    return os.environ.get("KZOO_RNN_JIT", "1") != "0"


def _compiled(fn, key):
    if not jit_enabled():
        return fn
    if key not in _COMPILED:
        _COMPILED[key] = tf.function(fn, jit_compile=True, autograph=False)
    return _COMPILED[key]


MIN_SHARD_ROWS = 8


def batch_shards(x):
    """Row counts that cut the batch of ``x`` into one shard per usable CPU core (:func:`usable_cpus`).

    ``KZOO_RNN_SHARDS`` overrides the count (1 turns sharding off). Shards keep at least ``MIN_SHARD_ROWS``
    rows. With a batch size unknown at trace time the count is fixed by the cores and the sizes are tensors:
    as many shards as the batch fills with ``MIN_SHARD_ROWS`` rows each get its rows, the others are empty.
    """
    wanted = int(os.environ.get("KZOO_RNN_SHARDS", 0)) or usable_cpus()
    if tf.config.list_logical_devices("GPU"):
        wanted = 1
    batch = x.shape[0]
    if batch is not None:
        n = max(1, min(wanted, batch // MIN_SHARD_ROWS))
        return [batch // n + (1 if i < batch % n else 0) for i in range(n)]
    total = tf.shape(x)[0]
    if wanted == 1:
        return [total]
    active = tf.clip_by_value(total // MIN_SHARD_ROWS, 1, wanted)
    share, extra = total // active, total % active
    return [tf.where(i < active, share + tf.cast(i < extra, total.dtype), 0) for i in range(wanted)]


def shard_projections(x, kernel, n, reverse=False):
    """Time-major input projections X_s·U of ``n`` equal batch shards of batch-major ``x`` (B, T, D):
    a list of n (T, B/n, k·units) tensors, time reversed when ``reverse``.

    They are computed as one matrix product over all B·T rows (the shard-major layout makes each
    shard's block contiguous, so splitting them off copies nothing). A product per shard, run
    concurrently, oversubscribes the cores and starts the shards' loops milliseconds apart; the
    LSTM and Elman training steps are faster this way. The gradient stays per shard,
    ∂L/∂U = Σ_s X_sᵀ·δZ_s, so the shards' δZ are never stacked into one tensor.
    """
    batch, steps, features = x.shape
    steps = steps if steps is not None else tf.shape(x)[1]
    rows = batch // n

    @tf.custom_gradient
    def project(x, kernel):
        xs = tf.transpose(tf.reshape(x, [n, rows, steps, features]), [0, 2, 1, 3])  # (n, T, B/n, D)
        xs = tf.reverse(xs, [1]) if reverse else xs
        zx = tf.matmul(tf.reshape(xs, [-1, features]), kernel)
        zx = tf.reshape(zx, [n, steps, rows, kernel.shape[-1]])

        def grad(*d_zx):
            d_zx = [tf.reshape(_zeros_if_none(d, zx[0]), [-1, kernel.shape[-1]]) for d in d_zx]
            x_parts = [tf.reshape(p, [-1, features]) for p in tf.unstack(xs)]
            d_kernel = tf.add_n([tf.matmul(p, d, transpose_a=True) for p, d in zip(x_parts, d_zx)])
            d_xs = tf.reshape(tf.stack([tf.matmul(d, kernel, transpose_b=True) for d in d_zx]),
                              [n, steps, rows, features])
            d_xs = tf.reverse(d_xs, [1]) if reverse else d_xs
            return tf.reshape(tf.transpose(d_xs, [0, 2, 1, 3]), [batch, steps, features]), d_kernel

        return tf.unstack(zx), grad

    return project(x, kernel)


def _zeros_if_none(grad, like):
    return tf.zeros_like(like) if grad is None else grad


def _num_steps(seq):
    """The number of time steps: static when known (XLA and TensorArrays run faster)."""
    return seq.shape[0] if seq.shape[0] is not None else tf.shape(seq)[0]


def unroll_factor(steps):
    """Time steps per loop iteration: the largest divisor of a static ``steps`` up to ``KZOO_RNN_UNROLL``
    (default 10; 1 turns unrolling off), 1 when ``steps`` is only known at run time. Each iteration of a
    compiled while loop costs a fixed overhead (loop state, dynamic slices) of the order of a small step's
    matmul; unrolled steps share it."""
    limit = int(os.environ.get("KZOO_RNN_UNROLL", 10))
    if not isinstance(steps, int) or limit <= 1:
        return 1
    return max(d for d in range(1, min(limit, steps) + 1) if steps % d == 0)


def _per_step(seq, dtype):
    """A TensorArray of the steps of a time-major ``seq``; the loops read step t as ``.read(t)``."""
    return tf.TensorArray(dtype, size=_num_steps(seq)).unstack(seq)


def forward_loop(rule, zx, states0, params, mask, zero_output_for_mask, unroll=1, input_bias=None):
    """The forward recurrence, ``unroll`` steps per loop iteration (a divisor of the number of steps).
    Step t reads zx_t (+ ``input_bias``). Returns (h_seq, finals, saved_seqs, outputs, last_output):
    the sequence of the first state (h; the backward pass needs no other), the final states, the
    rule's saved factors, and the outputs, all time-major.

    Every step is read from and written to per-step TensorArrays (XLA: a dynamic slice of the
    input, an in-place update of the output buffer), not stacked into blocks first: stacking
    cost one more copy of every saved tensor."""
    masked = mask is not None
    steps, dtype = _num_steps(zx), zx.dtype
    n_blocks = steps // unroll
    zx_ta = _per_step(zx, dtype)
    mask_ta = _per_step(mask, tf.bool) if masked else None
    h_ta = tf.TensorArray(dtype, size=steps)
    saved_tas = tuple(tf.TensorArray(dtype, size=steps) for _ in range(rule.n_saved))
    out_ta = tf.TensorArray(dtype, size=steps) if masked else ()
    y0 = tf.zeros_like(states0[0])

    def step(b, states, y, h_ta, saved_tas, out_ta):
        for j in range(unroll):
            t = b * unroll + j
            zx_t = zx_ta.read(t) if input_bias is None else zx_ta.read(t) + input_bias
            new, saved = rule.forward(zx_t, states, params)
            if masked:
                m = mask_ta.read(t)
                y = tf.where(m, new[0], tf.zeros_like(y) if zero_output_for_mask else y)
                new = tuple(tf.where(m, s_new, s) for s_new, s in zip(new, states))
                out_ta = out_ta.write(t, y)
            states = tuple(new)
            h_ta = h_ta.write(t, states[0])
            saved_tas = tuple(ta.write(t, x) for ta, x in zip(saved_tas, saved))
        return b + 1, states, y, h_ta, saved_tas, out_ta

    _, finals, y, h_ta, saved_tas, out_ta = tf.while_loop(
        lambda b, *_: b < n_blocks, step,
        (tf.constant(0), tuple(states0), y0, h_ta, saved_tas, out_ta),
        maximum_iterations=n_blocks,
    )
    h_seq = h_ta.stack()
    saved_seqs = tuple(ta.stack() for ta in saved_tas)
    if masked:
        return h_seq, finals, saved_seqs, out_ta.stack(), y
    return h_seq, finals, saved_seqs, h_seq, finals[0]


def backward_loop(rule, states0, params, bparams, mask, zero_output_for_mask, h_seq, saved_seqs,
                  d_outputs, d_last, d_final, unroll=1):
    """BPTT: from ∂L/∂(outputs, last output, final states) to ∂L/∂(zx, states0, params).

    The factors of each step's Jacobian that do not depend on the incoming gradient come
    from the forward step or ``rule.coefficients``; the loop only chains gradients,
    ``unroll`` steps per iteration.

    The weight gradients (``rule.param_grads``, products over all steps whose contraction
    runs over the (time, batch) rows) are computed here, inside XLA, only for rules with
    ``param_grads_in_xla``; otherwise the caller computes them with TensorFlow's matmul
    (oneDNN), which runs these transposed products faster than XLA's Eigen path (Elman train
    step 13.1-13.8 ms instead of 14.0-15.8). The input bias's gradient, a sum of δzx over
    all rows, is summed inside XLA for rules with ``bias_grad_in_xla`` (2-3% of the LSTM and
    Elman train steps) and otherwise outside, as autodiff of zx + b would.

    """
    masked = mask is not None
    steps, dtype = _num_steps(h_seq), h_seq.dtype
    n_blocks = steps // unroll
    if rule.coefficients is None:
        coeffs = saved_seqs
    else:
        coeffs = _compiled(rule.coefficients, ("coefficients", rule.key))(
            states0, h_seq, saved_seqs, params)
    coeff_tas = tuple(_per_step(c, dtype) for c in coeffs)
    dout_ta = _per_step(d_outputs, dtype) if d_outputs is not None else None
    mask_ta = _per_step(mask, tf.bool) if masked else None
    if masked:
        ds0, gy0 = tuple(d_final), d_last
    else:  # the last output is the final h
        ds0, gy0 = (d_final[0] + d_last, *d_final[1:]), tf.zeros_like(d_last)

    def step(k, ds, gy, dzx_ta, drec_ta):
        b = n_blocks - 1 - k
        for j in reversed(range(unroll)):
            t = b * unroll + j
            g_out = dout_ta.read(t) if dout_ta is not None else None
            if masked:
                m = mask_ta.read(t)
                gy = gy + g_out if g_out is not None else gy
                zero = tf.zeros_like(gy)
                d_new = (tf.where(m, ds[0] + gy, zero),) + tuple(tf.where(m, d, zero) for d in ds[1:])
                carried = tuple(tf.where(m, zero, d) for d in ds)
                gy = zero if zero_output_for_mask else tf.where(m, zero, gy)
            else:
                d_new = (ds[0] + g_out,) + tuple(ds[1:]) if g_out is not None else tuple(ds)
            dzx, drec, d_prev = rule.backward_step(d_new, tuple(ta.read(t) for ta in coeff_tas), bparams)
            if masked:
                d_prev = tuple(a + c for a, c in zip(d_prev, carried))
            ds = tuple(d_prev)
            dzx_ta = dzx_ta.write(t, dzx)
            if rule.separate_recurrent_delta:
                drec_ta = drec_ta.write(t, drec)
        return k + 1, ds, gy, dzx_ta, drec_ta

    _, d_states0, _, dzx_ta, drec_ta = tf.while_loop(
        lambda k, *_: k < n_blocks, step,
        (tf.constant(0), ds0, gy0, tf.TensorArray(dtype, size=steps), tf.TensorArray(dtype, size=steps)),
        maximum_iterations=n_blocks,
    )
    dzx_seq = dzx_ta.stack()
    drec_seq = drec_ta.stack() if rule.separate_recurrent_delta else None
    if not rule.param_grads_in_xla:  # the caller computes them, from the recurrent δ's where the rule has them
        return dzx_seq, tuple(d_states0), (), (drec_seq,) if rule.separate_recurrent_delta else ()
    d_params = rule.param_grads(states0, h_seq, saved_seqs, dzx_seq, drec_seq, params)
    return dzx_seq, tuple(d_states0), tuple(d_params), ()


def previous_states(states0, state_seqs):
    """The states each step started from: (s_0, s_1, …, s_{T-1}) for every state sequence given."""
    return [tf.concat([s0[None], seq[:-1]], axis=0) for s0, seq in zip(states0, state_seqs)]


def fused_scan(rule, zx, states0, params, mask=None, zero_output_for_mask=False,
               return_sequences=True, input_bias=None):
    """Run ``rule`` over time-major projected inputs, with hand-written BPTT as its gradient.

    Args:
        rule: one of the ``*Rule`` objects above.
        zx: (T, B, k·units) input projections x_t·U, time-major.
        states0: list of (B, units) initial states.
        params: tuple of recurrent parameters (tensors) the rule needs.
        mask: optional (T, B) bool; False marks a step to skip.
        zero_output_for_mask: masked steps output zeros instead of the previous output.
        return_sequences: also return the per-step outputs.
        input_bias: optional (k·units,) b, added to zx_t inside the loop (where XLA fuses
            it into the step, instead of a pass over all of zx before the loop).
    Returns:
        (outputs (T, B, units) or None, last_output (B, units), final_states list)
    """
    n, masked, biased = rule.n_states, mask is not None, input_bias is not None
    if masked:
        mask = tf.expand_dims(tf.cast(mask, tf.bool), -1)

    unroll = unroll_factor(_num_steps(zx))

    def forward(zx, states0, params, mask, bias):
        # The backward step's own matrices (``rule.backward_params``) are made here, where
        # they cost nothing on the training step's critical path.
        made = rule.backward_params(params) if rule.backward_params is not None else ()
        return forward_loop(rule, zx, states0, params, mask, zero_output_for_mask, unroll, bias), made

    def backward(states0, params, bparams, mask, h_seq, saved_seqs, d_outputs, d_last, d_final):
        dzx, d_states0, d_params, drec = backward_loop(rule, states0, params, bparams, mask, zero_output_for_mask,
                                                       h_seq, saved_seqs, d_outputs, d_last, d_final, unroll)
        d_bias = (tf.reduce_sum(dzx, axis=[0, 1]),) if biased and rule.bias_grad_in_xla else ()
        return dzx, d_states0, d_params, d_bias, drec

    key = (rule.key, masked, zero_output_for_mask, return_sequences, unroll, biased)
    forward = _compiled(forward, ("f",) + key)
    backward = _compiled(backward, ("b",) + key)

    @tf.custom_gradient
    def scan(zx, *flat):
        # The gradient is ours: keep any active tape from differentiating the loop itself.
        zx, flat = tf.stop_gradient(zx), [tf.stop_gradient(x) for x in flat]
        states0, params, bias = tuple(flat[:n]), tuple(flat[n:len(flat) - biased]), flat[-1] if biased else None
        (h_seq, finals, saved_seqs, outputs, last_output), bparams = forward(zx, states0, params, mask, bias)
        bparams = bparams if rule.backward_params is not None else params
        finals = list(finals)

        def grad(*upstream):
            upstream = list(upstream)
            d_outputs = _zeros_if_none(upstream.pop(0), outputs) if return_sequences else None
            d_last = _zeros_if_none(upstream.pop(0), last_output)
            d_final = tuple(_zeros_if_none(g, s) for g, s in zip(upstream, finals))
            dzx, d_states0, d_params, d_bias, drec = backward(states0, params, bparams, mask, h_seq, saved_seqs,
                                                              d_outputs, d_last, d_final)
            if biased and not rule.bias_grad_in_xla:  # the reduction autodiff of zx + b would make
                d_bias = (tf.reduce_sum(dzx, axis=[0, 1]),)
            if not rule.param_grads_in_xla:
                d_params = rule.param_grads(states0, h_seq, saved_seqs, dzx, drec[0] if drec else None, params)
            return (dzx, *d_states0, *d_params, *d_bias)

        result = ([outputs] if return_sequences else []) + [last_output, *finals]
        return result, grad

    result = scan(zx, *states0, *params, *([input_bias] if biased else []))
    outputs = result[0] if return_sequences else None
    last_output, finals = result[-(n + 1)], list(result[-n:])
    return outputs, last_output, finals
