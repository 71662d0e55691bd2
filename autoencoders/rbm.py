"""The Bernoulli restricted Boltzmann machine, trained by contrastive divergence (Hinton 2002) or persistent
contrastive divergence (Tieleman 2008), with the hyper-parameter defaults of Hinton's practical guide (2010).

E(v, h) = −vᵀb − hᵀc − vᵀWh,   p(h_j=1|v) = σ(c_j + (vW)_j),   p(v_i=1|h) = σ(b_i + (Wh)_i),
F(v) = −vᵀb − Σ_j softplus(c_j + (vW)_j),   p(v) = exp(−F(v)) / Z.

The learning rule ascends the log-likelihood gradient ⟨v hᵀ⟩_data − ⟨v hᵀ⟩_model, the model expectation
replaced by k steps of block Gibbs sampling started at the data (CD-k) or at persistent chains (PCD).
"""

from __future__ import annotations

import numbers

import keras
import numpy as np
from keras import ops

from autoencoders import partition
from zoo.validation import check_int, check_positive_ints


def _uniform(shape, seed, dtype="float32", rows=None, minval=0.0, maxval=1.0):
    """U[minval, maxval) noise of ``shape``; with ``rows`` = (offset, global_batch) from
    :func:`zoo.distribution.replica_batch_position`, drawn for the global batch and sliced to this replica's rows, so
    that every example gets the noise it would get on one device."""
    if rows is None:
        return _draw_uniform(shape, seed, dtype, minval, maxval)
    import tensorflow as tf

    offset, total = rows
    noise = _draw_uniform((total, *shape[1:]), seed, dtype, minval, maxval)
    return tf.slice(noise, tf.concat([[offset], tf.zeros([len(shape) - 1], tf.int32)], 0),
                    tf.concat([[shape[0]], tf.constant(shape[1:], tf.int32)], 0))


def _draw_uniform(shape, seed, dtype, minval, maxval):
    """``keras.random.uniform``, except that under TensorFlow the counter-based generator is named (Philox):
    the default, "auto_select", compiles under XLA on CPU to a generator about 8x slower, which made the
    jit-compiled ``train_step`` slower than the plain graph."""
    if keras.backend.backend() != "tensorflow" or not isinstance(seed, keras.random.SeedGenerator):
        return keras.random.uniform(shape, minval, maxval, seed=seed, dtype=dtype)
    import tensorflow as tf

    return tf.random.stateless_uniform(shape, tf.cast(seed.next(), tf.int64), minval=tf.cast(minval, dtype),
                                       maxval=tf.cast(maxval, dtype), dtype=dtype, alg="philox")


def _sample(probabilities, seed, rows=None):
    """Bernoulli samples of ``probabilities`` (a tensor) as 0/1 floats (``rows``: see :func:`_uniform`)."""
    noise = _uniform(_static_shape(probabilities), seed, probabilities.dtype, rows)
    return ops.cast(noise < probabilities, probabilities.dtype)


def _static_shape(tensor):
    """The shape with the batch dimension as a (possibly dynamic) scalar and the others as Python ints."""
    shape = ops.shape(tensor)
    return (shape[0], *[int(size) for size in tensor.shape[1:]])


DEFAULT_STEPS_PER_EXECUTION = 32


class _MomentumEpoch(keras.callbacks.Callback):
    """Tells the RBM which epoch it is in, for the switch from ``initial_momentum`` to ``momentum``."""

    def __init__(self, rbm):
        super().__init__()
        self.rbm = rbm

    def on_epoch_begin(self, epoch, logs=None):
        self.rbm.current_epoch.assign(epoch)


@keras.saving.register_keras_serializable(package="kzoo")
class BernoulliRBM(keras.Model):
    """Binary RBM with weights ``kernel`` (n_visible, n_hidden), ``visible_bias`` (n_visible,) and
    ``hidden_bias`` (n_hidden,), trained with ``fit`` (its own ``train_step``; no optimizer or loss needed).

    Update (Hinton 2010, §9-10): Δ ← μΔ + ε(⟨vhᵀ⟩_data − ⟨vhᵀ⟩_recon − λW), W ← W + Δ (biases alike, without
    decay); μ = ``initial_momentum`` for the first ``momentum_switch_epoch`` epochs, then ``momentum``.
    Defaults: ε = 0.1 (on the batch-mean statistics), μ 0.5 → 0.9 after 5 epochs, λ = 1e-4, W ~ N(0, 0.01²),
    hidden biases 0, visible biases log(p_i/(1−p_i)) of the training data (Hinton 2010, §8; set at the start of
    the first ``fit``). The negative statistics use sampled visible states and hidden probabilities (as
    scikit-learn).

    Why the visible-bias initialisation matters: with visible biases started at 0 (scikit-learn's choice), CD-1
    on MNIST leaves them near −0.35 after a few epochs while the hidden units learn to switch off on dense
    images; h = 0 with v ~ σ(b) (≈ 41% of pixels on) then becomes a spurious, absorbing mode of enormous
    entropy that CD never visits: Gibbs chains from random images all fall into it (every hidden unit off,
    p(v) ≈ 0.4 everywhere) and its mass inflates log Z (Σ_i softplus(b_i) ≈ 400 nats), dragging the AIS
    log-likelihood down by well over 100 nats while the pseudo-likelihood, a local measure, does not notice.

    Args:
        k: Gibbs steps per update.
        persistent: PCD: the negative chains (``n_chains`` hidden states, a non-trainable variable, zeros at
            start as in scikit-learn) continue from one update to the next instead of restarting at the data.
        binarize: None (inputs must lie in [0, 1] and are used as given) or a threshold t: inputs become x > t.
        visible_bias_init: ``"data"`` (default): when the visible biases are all zero at the start of ``fit`` (a
            fresh model; weights assigned by hand or trained are left alone), set them to log(p/(1−p)) of the
            mean p of the (binarised) training inputs, p smoothed as :func:`base_rate_bias`; ``"zeros"`` keeps
            them at 0, as scikit-learn.
        seed: seeds the initial weights and the sampling of ``fit``.

    Metrics: ``reconstruction_error`` (mean squared error between v and p(v|h), h ~ p(h|v)) and
    ``pseudo_log_likelihood`` (V · log σ(F(ṽ) − F(v)), ṽ = v with one random unit flipped, as scikit-learn).
    Under a ``tf.distribute`` strategy the statistics are summed over replicas and divided by the global batch,
    and the random draws are those of one device (see :meth:`train_step`): N replicas reproduce one device.
    """

    def __init__(self, n_visible, n_hidden, k=1, persistent=False, learning_rate=0.1, momentum=0.9,
                 initial_momentum=0.5, momentum_switch_epoch=5, weight_decay=1e-4, n_chains=100,
                 binarize=None, init_scale=0.01, visible_bias_init="data", seed=None, **kwargs):
        super().__init__(**kwargs)
        check_positive_ints(n_visible=n_visible, n_hidden=n_hidden, k=k, n_chains=n_chains)
        check_int(momentum_switch_epoch, "momentum_switch_epoch", minimum=0)
        for name, value in (("learning_rate", learning_rate), ("init_scale", init_scale)):
            if not isinstance(value, numbers.Real) or not value > 0:
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        for name, value in (("momentum", momentum), ("initial_momentum", initial_momentum)):
            if not isinstance(value, numbers.Real) or not 0 <= value < 1:
                raise ValueError(f"{name} must be in [0, 1), got {value!r}")
        if not isinstance(weight_decay, numbers.Real) or not weight_decay >= 0:
            raise ValueError(f"weight_decay must be a non-negative number, got {weight_decay!r}")
        if visible_bias_init not in ("data", "zeros"):
            raise ValueError(f"visible_bias_init must be 'data' or 'zeros', got {visible_bias_init!r}")
        if binarize is not None and (not isinstance(binarize, numbers.Real) or isinstance(binarize, bool)):
            raise TypeError(f"binarize must be None or a threshold number, got {binarize!r}")
        self.n_visible, self.n_hidden, self.k = int(n_visible), int(n_hidden), int(k)
        self.persistent, self.n_chains = bool(persistent), int(n_chains)
        self.learning_rate, self.momentum = float(learning_rate), float(momentum)
        self.initial_momentum, self.momentum_switch_epoch = float(initial_momentum), int(momentum_switch_epoch)
        self.weight_decay, self.init_scale = float(weight_decay), float(init_scale)
        self.binarize = None if binarize is None else float(binarize)
        self.visible_bias_init = visible_bias_init
        self.seed = seed

        shared = dict(aggregation="mean")
        self.kernel = self.add_weight(shape=(self.n_visible, self.n_hidden), name="kernel", **shared,
                                      initializer=keras.initializers.RandomNormal(0.0, self.init_scale, seed=seed))
        self.visible_bias = self.add_weight(shape=(self.n_visible,), initializer="zeros", name="visible_bias",
                                            **shared)
        self.hidden_bias = self.add_weight(shape=(self.n_hidden,), initializer="zeros", name="hidden_bias",
                                           **shared)
        self.velocities = [self.add_weight(shape=weight.shape, initializer="zeros", trainable=False,
                                           name=f"{weight.name}_velocity", **shared)
                           for weight in (self.kernel, self.visible_bias, self.hidden_bias)]
        self.chains = self.add_weight(shape=(self.n_chains, self.n_hidden), initializer="zeros", trainable=False,
                                      name="persistent_hidden", aggregation="only_first_replica")
        self.current_epoch = self.add_weight(shape=(), initializer="zeros", dtype="int32", trainable=False,
                                             name="current_epoch",
                                     aggregation="only_first_replica")
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction_error")
        self.pll_tracker = keras.metrics.Mean(name="pseudo_log_likelihood")
        self.built = True

    # --- the model's conditionals and energies (keras.ops; usable eagerly and in graphs) ---------------------

    def prepare(self, inputs):
        """Inputs as float32 visible states: thresholded when ``binarize`` is set."""
        v = ops.cast(inputs, "float32")
        if self.binarize is not None:
            v = ops.cast(v > self.binarize, "float32")
        return v

    def hidden_probabilities(self, v):
        """p(h=1|v) = σ(c + vW)."""
        return ops.sigmoid(ops.matmul(v, self.kernel) + self.hidden_bias)

    def visible_probabilities(self, h):
        """p(v=1|h) = σ(b + hWᵀ)."""
        return ops.sigmoid(ops.matmul(h, ops.transpose(self.kernel)) + self.visible_bias)

    def free_energy(self, v):
        """F(v) = −vᵀb − Σ_j softplus(c_j + (vW)_j), one value per row."""
        v = self.prepare(self.check_inputs(v))
        return self._free_energy(v, ops.matmul(v, self.kernel) + self.hidden_bias)

    def _free_energy(self, v, hidden_logits):
        return -ops.sum(v * self.visible_bias, axis=-1) - ops.sum(ops.softplus(hidden_logits), axis=-1)

    def call(self, inputs):
        """The hidden probabilities p(h=1|v): the RBM's features (scikit-learn's ``transform``)."""
        return self.hidden_probabilities(self.prepare(inputs))

    # --- input validation at the public boundary -------------------------------------------------------------

    def check_inputs(self, inputs, name="inputs"):
        """Raise ValueError unless ``inputs`` (array-like with n_visible columns) lie in [0, 1] or ``binarize``
        is set. Symbolic tensors pass through unchecked (``fit`` checks datasets element by element)."""
        if isinstance(inputs, np.ndarray) or ops.is_tensor(inputs) and _has_values(inputs):
            array = np.asarray(inputs)
            if array.shape[-1:] != (self.n_visible,):
                raise ValueError(f"{name} must have {self.n_visible} columns (n_visible), got shape {array.shape}")
            bad = int(np.count_nonzero(~np.isfinite(array)))
            if bad:
                raise ValueError(f"BernoulliRBM {name} hold {bad} NaN/Inf values; drop or repair those examples "
                                 "(binarize= would silently turn them into 0)")
            if self.binarize is None and array.size and not (array.min() >= 0 and array.max() <= 1):
                raise ValueError(
                    f"BernoulliRBM {name} must lie in [0, 1], got values in [{array.min()}, {array.max()}]; "
                    f"rescale them (e.g. x / 255) or pass binarize=threshold to the constructor")
        return inputs

    def _checked_dataset(self, dataset):
        """``dataset`` with each element's inputs checked in the input pipeline: finite, and in [0, 1] unless
        ``binarize`` is set (one comparison pass: NaN fails both bounds)."""
        import tensorflow as tf

        def check(*elements):
            x = tf.cast(elements[0], tf.float32)
            if self.binarize is not None:
                tf.debugging.assert_all_finite(
                    x, message="BernoulliRBM inputs hold NaN/Inf values; drop or repair them")
            else:
                tf.debugging.Assert(
                    tf.reduce_all((x >= 0.0) & (x <= 1.0)),
                    ["BernoulliRBM inputs must lie in [0, 1] and hold no NaN; rescale them (e.g. x / 255), drop or "
                     "repair NaN values, or pass binarize=threshold"])
            return elements[0] if len(elements) == 1 else elements

        return dataset.map(check)

    # --- training ---------------------------------------------------------------------------------------------

    def compile(self, optimizer=None, jit_compile="auto", steps_per_execution="auto", **kwargs):
        """The RBM applies its own update rule; ``optimizer`` and ``loss`` stay None.

        An update is a few small matrix products, so per-step overheads weigh: by default (``"auto"``) the
        ``train_step`` is compiled with XLA under TensorFlow on one replica (fusing the sampling and the
        element-wise work; measured 2.6-3.1 s against 3.8-4.3 s per MNIST epoch, 500 hidden units, batch 100,
        2-core CPU) and :data:`DEFAULT_STEPS_PER_EXECUTION` steps run per call (Keras's per-step dispatch;
        progress bars and batch-level callbacks see every 32nd step). Under a strategy with several replicas
        "auto" means neither (the cross-replica sums are not compiled by XLA on CPU). Pass
        ``jit_compile=False`` or ``steps_per_execution=1`` to change either."""
        import tensorflow as tf

        # saved as given ("auto" stays "auto"), so that a loaded model resolves it where it is loaded
        self._requested_compile = {"jit_compile": jit_compile, "steps_per_execution": steps_per_execution}
        one_replica = tf.distribute.get_strategy().num_replicas_in_sync == 1
        if jit_compile == "auto":
            jit_compile = keras.backend.backend() == "tensorflow" and one_replica
        self._auto_steps_per_execution = steps_per_execution == "auto" and one_replica
        if steps_per_execution == "auto":
            steps_per_execution = DEFAULT_STEPS_PER_EXECUTION if one_replica else 1
        super().compile(optimizer=optimizer, jit_compile=jit_compile, steps_per_execution=steps_per_execution,
                        **kwargs)

    def get_compile_config(self):
        config = super().get_compile_config()
        if config and hasattr(self, "_requested_compile"):
            config.update(self._requested_compile)
        return config

    def compile_from_config(self, config):
        keep = ("steps_per_execution", "jit_compile")
        self.compile(**{key: config[key] for key in keep if key in config})

    def fit(self, x=None, y=None, callbacks=None, **kwargs):
        import tensorflow as tf

        if not self.compiled:
            self.compile()
        if isinstance(x, tf.data.Dataset):
            x = self._checked_dataset(x)
        else:
            self.check_inputs(x, "x")
        if self.visible_bias_init == "data" and not np.any(ops.convert_to_numpy(self.visible_bias)):
            self.visible_bias.assign(base_rate_bias(self._input_mean(x), mean=True).astype(np.float32))
        steps_per_epoch = kwargs.get("steps_per_epoch")
        if steps_per_epoch and getattr(self, "_auto_steps_per_execution", False):
            # Keras runs whole executions of steps_per_execution steps, past steps_per_epoch on a repeated
            # dataset; the automatic choice is therefore the largest divisor of steps_per_epoch within the default.
            divisor = max(d for d in range(1, DEFAULT_STEPS_PER_EXECUTION + 1) if steps_per_epoch % d == 0)
            if divisor != self.steps_per_execution:
                self.steps_per_execution, self.train_function = divisor, None
        callbacks = [*(callbacks or []), _MomentumEpoch(self)]
        return super().fit(x, y, callbacks=callbacks, **kwargs)

    def _input_mean(self, x, max_rows=100_000):
        """Mean visible state of the (binarised) training inputs: an array, or the first ``max_rows`` rows of a
        dataset of arrays or (x, ...) tuples."""
        import tensorflow as tf

        if not isinstance(x, tf.data.Dataset):
            return np.asarray(ops.convert_to_numpy(ops.mean(self.prepare(x), axis=0)), np.float64)
        total, rows = np.zeros(self.n_visible), 0
        for element in x:
            batch = element[0] if isinstance(element, (tuple, list)) else element
            batch = np.asarray(ops.convert_to_numpy(self.prepare(batch)), np.float64).reshape(-1, self.n_visible)
            total, rows = total + batch.sum(axis=0), rows + len(batch)
            if rows >= max_rows:
                break
        return total / max(rows, 1)

    @property
    def metrics(self):
        return [self.reconstruction_tracker, self.pll_tracker]

    def _gibbs_chain(self, pv, steps, seed, rows=None):
        """``steps`` sweeps v ~ p(v|h), h ~ p(h|v), the first from the visible probabilities ``pv`` = p(v|h) of
        the starting hidden states; returns (v, p(h|v), h) of the last sweep."""
        v = _sample(pv, seed, rows)
        ph = self.hidden_probabilities(v)
        h = _sample(ph, seed, rows)
        for _ in range(steps - 1):
            v = _sample(self.visible_probabilities(h), seed, rows)
            ph = self.hidden_probabilities(v)
            h = _sample(ph, seed, rows)
        return v, ph, h

    def _monitor(self, v, hidden_logits, reconstruction, seed, rows=None):
        """Update the reconstruction-error and pseudo-log-likelihood trackers for the batch v (``reconstruction``
        = p(v|h), h ~ p(h|v))."""
        self.reconstruction_tracker.update_state(ops.mean(ops.square(v - reconstruction), axis=-1))
        # ṽ = v with unit i_r of row r flipped (s_r = 1 − 2·v_{r,i_r}): its hidden logits are those of v plus
        # s_r·W_{i_r}, and F(ṽ) − F(v) = −s_r·b_{i_r} − Σ_j [softplus(l̃_j) − softplus(l_j)].
        index = ops.cast(_uniform((ops.shape(v)[0],), seed, "float32", rows, 0.0, float(self.n_visible)), "int32")
        sign = 1.0 - 2.0 * ops.take_along_axis(v, index[:, None], axis=1)
        flipped_logits = hidden_logits + sign * ops.take(self.kernel, index, axis=0)
        gap = (-sign[:, 0] * ops.take(self.visible_bias, index)
               - ops.sum(ops.softplus(flipped_logits) - ops.softplus(hidden_logits), axis=-1))
        self.pll_tracker.update_state(-self.n_visible * ops.softplus(-gap))

    def _replica_rows(self, batch):
        """None on one device; else (offset, global batch) of this replica's rows (see :func:`_uniform`)."""
        import tensorflow as tf

        from zoo.distribution import replica_batch_position

        context = tf.distribute.get_replica_context()
        if context is None or context.num_replicas_in_sync == 1:
            return None
        return replica_batch_position(batch)

    def train_step(self, data):
        """One CD-k/PCD-k update. Under a ``tf.distribute`` strategy with N replicas: the statistics of each
        replica are sums over its examples divided by the global batch, all-reduced by summation (so the update is
        the one-device update of the global batch); every random draw is made for the global batch from the same
        seed state and sliced to the replica's rows, so N replicas reproduce one device up to floating-point
        summation order. PCD chains (``n_chains``, a mirrored variable) are one set shared by all replicas: each
        replica advances the same chains with the same noise (redundantly, and identically) and contributes
        1/N of their negative statistics."""
        import tensorflow as tf

        x = data[0] if isinstance(data, (tuple, list)) else data
        v0 = self.prepare(x)
        seed = self.seed_generator
        context = tf.distribute.get_replica_context()
        replicas = context.num_replicas_in_sync if context else 1
        rows = self._replica_rows(ops.shape(v0)[0])
        batch = ops.cast(ops.shape(v0)[0], "float32")
        global_batch = batch if rows is None else ops.cast(rows[1], "float32")

        hidden_logits = ops.matmul(v0, self.kernel) + self.hidden_bias
        ph0 = ops.sigmoid(hidden_logits)
        h0 = _sample(ph0, seed, rows)
        if self.persistent:
            # The reconstruction p(v|h0) of the data (a metric) and the chains' first p(v|h) in one product.
            both = self.visible_probabilities(ops.concatenate([h0, self.chains], axis=0))
            reconstruction, first = both[:ops.shape(v0)[0]], both[ops.shape(v0)[0]:]
            v, ph, h = self._gibbs_chain(first, self.k, seed)  # the same chains and noise on every replica
            self.chains.assign(h)
            negative_scale = 1.0 / (self.n_chains * replicas)
        else:
            reconstruction = self.visible_probabilities(h0)  # also the chain's first p(v|h)
            v, ph, h = self._gibbs_chain(reconstruction, self.k, seed, rows)
            negative_scale = 1.0 / global_batch

        # ε(⟨vhᵀ⟩_data − ⟨vhᵀ⟩_model) as one product [v0; v]ᵀ [ε·ph0/N; −ε·ph/N'] (ε folded into the small
        # factor, not the (V, H) result); terms that are zero (no momentum, no decay) cost nothing.
        rate = self.learning_rate
        weighted = ops.concatenate([ph0 * (rate / global_batch), ph * (-rate * negative_scale)], axis=0)
        steps = [ops.matmul(ops.transpose(ops.concatenate([v0, v], axis=0)), weighted),
                 rate * (ops.sum(v0, axis=0) / global_batch - negative_scale * ops.sum(v, axis=0)),
                 ops.sum(weighted, axis=0)]
        if replicas > 1:
            steps = context.all_reduce("sum", steps)
        if self.weight_decay:
            steps[0] = steps[0] - (rate * self.weight_decay) * self.kernel
        weights = (self.kernel, self.visible_bias, self.hidden_bias)
        if self.momentum or self.initial_momentum:
            momentum = ops.where(self.current_epoch < self.momentum_switch_epoch, self.initial_momentum,
                                 self.momentum)
            for weight, velocity, step in zip(weights, self.velocities, steps):
                velocity.assign(momentum * velocity + step)
                weight.assign_add(velocity)
        else:
            for weight, step in zip(weights, steps):
                weight.assign_add(step)

        self._monitor(v0, hidden_logits, reconstruction, seed, rows)
        return {metric.name: metric.result() for metric in self.metrics}

    def test_step(self, data):
        x = data[0] if isinstance(data, (tuple, list)) else data
        v = self.prepare(x)
        rows = self._replica_rows(ops.shape(v)[0])
        hidden_logits = ops.matmul(v, self.kernel) + self.hidden_bias
        h = _sample(ops.sigmoid(hidden_logits), self.seed_generator, rows)
        self._monitor(v, hidden_logits, self.visible_probabilities(h), self.seed_generator, rows)
        return {metric.name: metric.result() for metric in self.metrics}

    # --- sampling ---------------------------------------------------------------------------------------------

    def _gibbs_function(self):
        if getattr(self, "_gibbs_compiled", None) is None:
            import tensorflow as tf

            @tf.function(jit_compile=True, reduce_retracing=True)
            def run(v, steps, seed):
                def draw(probabilities, step, salt):
                    noise = tf.random.stateless_uniform(tf.shape(probabilities), alg="philox",
                                                        seed=tf.stack([seed, 2 * step + salt]))
                    return tf.cast(noise < probabilities, probabilities.dtype)

                def body(step, v, pv):
                    h = draw(self.hidden_probabilities(v), step, 0)
                    pv = self.visible_probabilities(h)
                    return step + 1, draw(pv, step, 1), pv

                _, v, pv = tf.while_loop(lambda step, *_: step < steps, body,
                                         (tf.constant(0, tf.int64), v, tf.zeros_like(v)))
                return v, pv

            object.__setattr__(self, "_gibbs_compiled", run)
        return self._gibbs_compiled

    def gibbs(self, v, steps=1, seed=None, return_probabilities=False):
        """Run ``steps`` block Gibbs sweeps h ~ p(h|v), v ~ p(v|h) from each row of ``v`` (all chains at once,
        by matrix products). Returns the binary visible states (or p(v|h) of the last sweep)."""
        import tensorflow as tf

        if not isinstance(steps, numbers.Integral) or steps < 1:
            raise ValueError(f"steps must be a positive integer, got {steps!r}")
        v = self.prepare(self.check_inputs(v, "v"))
        seed = np.random.randint(0, 2**31 - 1) if seed is None else int(seed)
        states, probabilities = self._gibbs_function()(
            v, tf.constant(int(steps), tf.int64), tf.constant(seed, tf.int64))
        return (probabilities if return_probabilities else states).numpy()

    def sample(self, n, steps=1000, seed=None, return_probabilities=False):
        """``n`` independent chains started at uniform random visible states, after ``steps`` sweeps."""
        if not isinstance(n, numbers.Integral) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        rng = np.random.default_rng(seed)
        start = (rng.random((int(n), self.n_visible)) < 0.5).astype(np.float32)
        return self.gibbs(start, steps, seed=rng.integers(0, 2**31 - 1),
                          return_probabilities=return_probabilities)

    # --- likelihood -------------------------------------------------------------------------------------------

    def weights_numpy(self):
        """(W, b, c) as float64 NumPy arrays."""
        return tuple(np.asarray(ops.convert_to_numpy(w), np.float64)
                     for w in (self.kernel, self.visible_bias, self.hidden_bias))

    def pseudo_log_likelihood(self, v, indices=None, seed=None):
        """V · log σ(F(ṽ) − F(v)) per row, ṽ = v with unit ``indices[r]`` of row r flipped (random when None:
        ``np.random.RandomState(seed).randint(0, V, n)``, scikit-learn's ``score_samples`` draw)."""
        v = np.asarray(ops.convert_to_numpy(self.prepare(self.check_inputs(v, "v"))), np.float64)
        if indices is None:
            indices = np.random.RandomState(seed).randint(0, self.n_visible, v.shape[0])
        kernel, visible_bias, hidden_bias = self.weights_numpy()
        flipped = v.copy()
        rows = np.arange(v.shape[0])
        flipped[rows, indices] = 1.0 - flipped[rows, indices]

        def free(x):
            return -x @ visible_bias - np.logaddexp(0.0, x @ kernel + hidden_bias).sum(axis=1)

        return -self.n_visible * np.logaddexp(0.0, -(free(flipped) - free(v)))

    def full_pseudo_log_likelihood(self, v, chunk=16):
        """Σ_i log p(v_i | v_−i) per row, every unit flipped in turn (no random draw; V times the cost of
        :meth:`pseudo_log_likelihood`, whose expectation over the flipped unit it is)."""
        v = np.asarray(ops.convert_to_numpy(self.prepare(self.check_inputs(v, "v"))), np.float64)
        return full_pseudo_log_likelihood(v, *self.weights_numpy(), chunk=chunk)

    def log_partition(self, method="exact", n_betas=14500, n_runs=100, base_visible_bias=None, seed=0,
                      max_units=20):
        """log Z: ``exact`` enumerates the smaller layer (≤ ``max_units`` units) and returns a float; ``ais``
        returns (estimate, standard_error) by annealed importance sampling (see :mod:`autoencoders.partition`;
        pass the data's base rates log(p/(1−p)) as ``base_visible_bias`` for MNIST-sized models)."""
        kernel, visible_bias, hidden_bias = self.weights_numpy()
        if method == "exact":
            return partition.exact_log_partition(kernel, visible_bias, hidden_bias, max_units=max_units)
        if method == "ais":
            return partition.ais_log_partition(kernel, visible_bias, hidden_bias, n_betas=n_betas, n_runs=n_runs,
                                               base_visible_bias=base_visible_bias, seed=seed)
        raise ValueError(f"method must be 'exact' or 'ais', got {method!r}")

    def log_likelihood(self, v, log_partition=None):
        """log p(v) = −F(v) − log Z per row; log Z is computed exactly when not given (small models only)."""
        if log_partition is None:
            log_partition = self.log_partition("exact")
        return -np.asarray(ops.convert_to_numpy(self.free_energy(v)), np.float64) - float(log_partition)

    def get_config(self):
        return {**super().get_config(), "n_visible": self.n_visible, "n_hidden": self.n_hidden, "k": self.k,
                "persistent": self.persistent, "learning_rate": self.learning_rate, "momentum": self.momentum,
                "initial_momentum": self.initial_momentum, "momentum_switch_epoch": self.momentum_switch_epoch,
                "weight_decay": self.weight_decay, "n_chains": self.n_chains, "binarize": self.binarize,
                "init_scale": self.init_scale, "visible_bias_init": self.visible_bias_init, "seed": self.seed}


def _has_values(tensor) -> bool:
    """True for an eager tensor (its values can be checked), False for a symbolic one inside a traced function."""
    return hasattr(tensor, "numpy") and not isinstance(tensor, keras.KerasTensor)


def full_pseudo_log_likelihood(v, kernel, visible_bias, hidden_bias, chunk=16) -> np.ndarray:
    """Σ_i log σ(F(v with unit i flipped) − F(v)) for each row of the binary matrix ``v``: the exact
    pseudo-log-likelihood of an RBM given as NumPy arrays (usable for scikit-learn's models too:
    ``components_.T, intercept_visible_, intercept_hidden_``)."""
    v = np.asarray(v, np.float64)
    kernel, visible_bias, hidden_bias = (np.asarray(a, np.float64) for a in (kernel, visible_bias, hidden_bias))
    out = np.empty(len(v))
    for start in range(0, len(v), chunk):
        rows = v[start:start + chunk]
        logits = rows @ kernel + hidden_bias  # [n, H]
        sign = 1.0 - 2.0 * rows  # +1 where a unit turns on, −1 where it turns off
        flipped = logits[:, None, :] + sign[:, :, None] * kernel[None]  # [n, V, H]
        gap = -sign * visible_bias - (np.logaddexp(0.0, flipped).sum(-1)
                                      - np.logaddexp(0.0, logits).sum(-1)[:, None])  # F(ṽ_i) − F(v)
        out[start:start + chunk] = -np.logaddexp(0.0, -gap).sum(axis=1)
    return out


def base_rate_bias(data, smoothing: float = 0.05, mean: bool = False) -> np.ndarray:
    """log(p/(1−p)) of the mean visible activation p of ``data`` (rows; or, with ``mean=True``, ``data`` is p
    already), smoothed toward 0.5 so that pixels never on get a finite bias (≈ −3.7): the base-rate model of
    AIS (Salakhutdinov & Murray 2008) and Hinton's initial visible biases."""
    mean = np.asarray(data, np.float64) if mean else np.asarray(data, np.float64).mean(axis=0)
    mean = (1 - smoothing) * mean + smoothing * 0.5
    return np.log(mean / (1 - mean))
