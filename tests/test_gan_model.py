"""gan.TextToImageGAN: architecture, the GAN-INT-CLS losses against NumPy, training through fit, saving,
generation and interpolation, the captioned grid and the training guard."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gan.grid import captioned_grid, save_captioned_grid
from gan.model import TextToImageGAN, build_discriminator, build_generator, gan_int_cls_losses
from gan.train import TrainingGuard
from zoo.text import CharRNNEncoder, CharVocab


def _tiny_gan(**kwargs):
    encoder = CharRNNEncoder(CharVocab(), embedding_dim=8, cell="gru", units=16, output_dim=24)
    arguments = dict(image_size=16, z_dim=8, text_proj_dim=8, ngf=8, ndf=8, max_length=24)
    arguments.update(kwargs)
    model = TextToImageGAN(encoder, **arguments)
    model.compile()
    return model


@pytest.mark.parametrize("size", [32, 64])
def test_generator_and_discriminator_shapes(size):
    generator = build_generator(size, z_dim=100, text_dim=64, text_proj_dim=128, ngf=16)
    discriminator = build_discriminator(size, text_dim=64, text_proj_dim=128, ndf=16)
    images = generator([tf.zeros((2, 100)), tf.ones((2, 64))])
    assert images.shape == (2, size, size, 3)
    assert float(tf.reduce_max(tf.abs(images))) <= 1.0
    assert discriminator([images, tf.ones((2, 64))]).shape == (2,)
    # G starts from a 4×4×(8·ngf) tensor (for 64 px) and D ends at 4×4×(8·ndf) before the text joins.
    top = 16 * 2 ** (int(np.log2(size // 4)) - 1)
    assert generator.get_layer("g_dense").kernel.shape == (100 + 128, 4 * 4 * top)
    assert discriminator.get_layer("d_joint").kernel.shape == (1, 1, top + 128, top)
    kernel = discriminator.get_layer("d_conv1").kernel.numpy()
    assert abs(kernel.std() - 0.02) < 0.002 and abs(kernel.mean()) < 0.002  # N(0, 0.02)


def _bce(logits, label):
    p = 1 / (1 + np.exp(-logits))
    return -(label * np.log(p) + (1 - label) * np.log(1 - p))


def test_gan_int_cls_losses_equal_numpy():
    rng = np.random.default_rng(0)
    s_real, s_wrong, s_fake, s_int = (rng.normal(size=5) for _ in range(4))
    d, g = gan_int_cls_losses(*(tf.constant(v) for v in (s_real, s_wrong, s_fake, s_int)), interpolation_weight=0.7)
    np.testing.assert_allclose(d, _bce(s_real, 1) + 0.5 * (_bce(s_wrong, 0) + _bce(s_fake, 0)), rtol=1e-6)
    np.testing.assert_allclose(g, _bce(s_fake, 1) + 0.7 * _bce(s_int, 1), rtol=1e-6)
    _, g_only = gan_int_cls_losses(*(tf.constant(v) for v in (s_real, s_wrong, s_fake)))
    np.testing.assert_allclose(g_only, _bce(s_fake, 1), rtol=1e-6)


def test_fit_updates_generator_and_discriminator_not_frozen_encoder():
    keras.utils.set_random_seed(0)
    model = _tiny_gan()
    images = np.random.default_rng(0).uniform(-1, 1, (32, 16, 16, 3)).astype("float32")
    ids = model.vocab.encode(["a red circle", "a blue square"] * 16, 24)
    data = tf.data.Dataset.from_tensor_slices({"image": images, "text_ids": ids}).batch(8)
    before = {name: [w.numpy().copy() for w in part.weights]
              for name, part in (("g", model.generator), ("d", model.discriminator), ("t", model.text_encoder))}
    history = model.fit(data, epochs=2, verbose=0)
    assert set(history.history) == {"d_loss", "g_loss", "d_real", "d_fake", "d_wrong"}
    assert all(np.isfinite(v).all() for v in history.history.values())
    changed = {name: any(not np.array_equal(a, b.numpy()) for a, b in zip(weights, part.weights))
               for (name, weights), part in zip(before.items(),
                                                (model.generator, model.discriminator, model.text_encoder))}
    assert changed == {"g": True, "d": True, "t": False}


def test_jointly_trained_encoder_is_updated():
    model = _tiny_gan(train_text_encoder=True, interpolation_weight=0.0)
    ids = model.vocab.encode(["a red circle", "a blue square"] * 4, 24)
    before = [w.numpy().copy() for w in model.text_encoder.trainable_weights]
    model.fit({"image": np.zeros((8, 16, 16, 3), "float32"), "text_ids": ids}, batch_size=8, verbose=0)
    assert any(not np.array_equal(a, w.numpy()) for a, w in zip(before, model.text_encoder.trainable_weights))


def test_save_load_generate_and_interpolate(tmp_path):
    model = _tiny_gan()
    path = tmp_path / "gan.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    assert isinstance(loaded, TextToImageGAN) and loaded.get_config()["max_length"] == 24
    z = model.fixed_noise(6, seed=3)
    captions = ["a small red circle", "", "🙂 émoji " + "x" * 10_000]  # empty, long and unknown characters
    np.testing.assert_allclose(model.generate(captions, n=2, z=z), loaded.generate(captions, n=2, z=z), atol=1e-6)
    assert model.generate(captions, n=2, z=z).shape == (3, 2, 16, 16, 3)
    path_images = model.interpolate("a red circle", "a blue square", steps=5, n=2, seed=1)
    assert path_images.shape == (2, 5, 16, 16, 3)
    ends = model.generate(["a red circle", "a blue square"], n=1, z=np.repeat(model.fixed_noise(1, 0), 2, 0))
    assert not np.allclose(ends[0], ends[1])
    with pytest.raises(ValueError, match="at least one caption"):
        model.generate([])


def _image_encoder(size=16, dim=24):
    from zoo.text.joint_embedding import small_image_encoder

    encoder = small_image_encoder(dim, filters=(4,))
    encoder.build((None, size, size, 3))
    return encoder


def test_matching_term_trains_generator_but_not_the_frozen_image_encoder():
    keras.utils.set_random_seed(0)
    image_encoder = _image_encoder()
    model = _tiny_gan(image_encoder=image_encoder, matching_weight=1.0)
    frozen = [w.numpy().copy() for w in image_encoder.weights]
    ids = model.vocab.encode(["a red circle", "a blue square", "a green star", "a white box"] * 4, 24)
    data = {"image": np.zeros((16, 16, 16, 3), "float32"), "text_ids": ids,
            "match_key": np.tile(np.arange(4, dtype="int32"), 4)}
    history = model.fit(data, batch_size=8, epochs=2, verbose=0)
    assert "matching" in history.history and np.isfinite(history.history["matching"]).all()
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(frozen, image_encoder.weights))
    # the term equals the DS-SJE hinge of phi(G(z, t)) against the batch captions, averaged over other keys
    fake = tf.random.uniform((4, 16, 16, 3), -1, 1)
    text = model.encode_text(["a red circle", "a blue square", "a red circle", "a white box"])
    keys = tf.constant([0, 1, 0, 3])
    phi = image_encoder((fake + 1) / 2).numpy()
    scores = phi @ text.numpy().T
    expected = []
    for i in range(4):
        others = [j for j in range(4) if keys[j] != keys[i]]
        hinge = sum(max(0, 1 + scores[i, j] - scores[i, i]) + max(0, 1 + scores[j, i] - scores[i, i]) for j in others)
        expected.append(hinge / len(others))
    np.testing.assert_allclose(model._matching(fake, text, keys).numpy(), expected, rtol=1e-5, atol=1e-6)


def test_hardest_negative_matching_term_equals_a_loop():
    """VSE++ form: in each direction the largest hinge over the captions of another key, not their mean."""
    keras.utils.set_random_seed(1)
    image_encoder = _image_encoder()
    model = _tiny_gan(image_encoder=image_encoder, matching_weight=1.0, matching_negatives="hardest")
    fake = tf.random.uniform((5, 16, 16, 3), -1, 1)
    text = model.encode_text(["a red circle", "a blue square", "a red circle", "a white box", "a green star"]) * 30.0
    keys = tf.constant([0, 1, 0, 3, 4])
    scores = image_encoder((fake + 1) / 2).numpy() @ text.numpy().T
    expected = []
    for i in range(5):
        others = [j for j in range(5) if keys[j] != keys[i]]
        expected.append(max(max(0, 1 + scores[i, j] - scores[i, i]) for j in others)
                        + max(max(0, 1 + scores[j, i] - scores[i, i]) for j in others))
    got = model._matching(fake, text, keys).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    mean = _tiny_gan(image_encoder=image_encoder, matching_weight=1.0)._matching(fake, text, keys).numpy()
    assert np.all(got >= mean - 1e-5) and not np.allclose(got, mean)  # a maximum is at least the mean
    with pytest.raises(ValueError, match="matching_negatives"):
        _tiny_gan(image_encoder=image_encoder, matching_weight=1.0, matching_negatives="all")


def test_generator_weight_average_follows_the_generator_and_draws_the_images(tmp_path):
    keras.utils.set_random_seed(0)
    model = _tiny_gan(ema_decay=0.9)
    assert all(np.array_equal(a.numpy(), w.numpy())
               for a, w in zip(model.generator_ema.weights, model.generator.weights))
    assert not model.generator_ema.trainable_weights  # never trained, only averaged
    data = {"image": np.random.default_rng(0).uniform(-1, 1, (8, 16, 16, 3)).astype("float32"),
            "text_ids": model.vocab.encode(["a red circle", "a blue square"] * 4, 24)}
    step = tf.function(model.train_step)
    averages = [w.numpy().astype(np.float64) for w in model.generator.weights]
    for t in range(1, 21):  # θ̄ ← d_t θ̄ + (1 − d_t) θ with d_t = min(0.9, (1 + t) / (10 + t))
        step(data)
        decay = min(0.9, (1 + t) / (10 + t))
        averages = [decay * a + (1 - decay) * w.numpy() for a, w in zip(averages, model.generator.weights)]
    for average, expected in zip(model.generator_ema.weights, averages):
        np.testing.assert_allclose(average.numpy(), expected, rtol=1e-4, atol=1e-6)
    assert not np.allclose(model.generator_ema.weights[0].numpy(), model.generator.weights[0].numpy())
    z = model.fixed_noise(2, seed=3)
    drawn = model.generate(["a red circle"], n=2, z=z)[0]
    z, embedding = tf.constant(z), model.encode_text(["a red circle"] * 2)
    np.testing.assert_allclose(drawn, model.generator_ema([z, embedding], training=False), atol=1e-6)
    assert not np.allclose(drawn, model.generator([z, embedding], training=False), atol=1e-4)
    model.save(tmp_path / "ema.keras")
    loaded = keras.models.load_model(tmp_path / "ema.keras", safe_mode=True)
    assert loaded.ema_decay == 0.9
    np.testing.assert_allclose(loaded.generate(["a red circle"], n=2, z=z)[0], drawn, atol=1e-6)
    copy = model.for_generation()  # ships the average as its generator
    assert copy.generator_ema is None
    np.testing.assert_allclose(copy.generate(["a red circle"], n=2, z=z)[0], drawn, atol=1e-6)
    with pytest.raises(ValueError, match="ema_decay"):
        _tiny_gan(ema_decay=1.0)


def test_matching_term_needs_an_image_encoder():
    with pytest.raises(ValueError, match="image_encoder"):
        _tiny_gan(matching_weight=1.0)


def test_generation_copy_generates_the_same_images_is_smaller_and_cannot_train(tmp_path):
    model = _tiny_gan(image_encoder=_image_encoder(), matching_weight=1.0)
    copy = model.for_generation()
    assert copy.discriminator is None and copy.image_encoder is None
    z = model.fixed_noise(4, seed=1)
    np.testing.assert_allclose(copy.generate(["a red circle", "a blue box"], n=2, z=z),
                               model.generate(["a red circle", "a blue box"], n=2, z=z), atol=1e-6)
    model.save(tmp_path / "full.keras")
    copy.save(tmp_path / "generate.keras")
    assert (tmp_path / "generate.keras").stat().st_size < (tmp_path / "full.keras").stat().st_size
    loaded = keras.models.load_model(tmp_path / "generate.keras", safe_mode=True)
    np.testing.assert_allclose(loaded.generate(["a red circle"], n=4, z=z), copy.generate(["a red circle"], n=4, z=z),
                               atol=1e-6)
    loaded.compile()
    with pytest.raises(ValueError, match="exported for generation"):
        loaded.fit({"image": np.zeros((4, 16, 16, 3), "float32"),
                    "text_ids": loaded.vocab.encode(["a"] * 4, 24)}, batch_size=4, verbose=0)


@pytest.mark.parametrize("kwargs, match", [({"image_size": 48}, "image_size"), ({"z_dim": 0}, "z_dim"),
                                           ({"beta": 1.5}, "beta"), ({"max_length": -1}, "max_length")])
def test_constructor_validates(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _tiny_gan(**kwargs)
    with pytest.raises(TypeError, match="text_encoder"):
        TextToImageGAN("lstm")


def test_captioned_grid(tmp_path):
    images = np.zeros((3, 4, 16, 16, 3)) - 1.0
    canvas = captioned_grid(images, ["one", "two", "three"], caption_width=100, padding=2)
    assert canvas.size == (100 + 4 * 18 + 2, 3 * 18 + 2)
    pixels = np.asarray(canvas)
    assert pixels[:, :100].min() < 128  # some caption text was drawn
    assert save_captioned_grid(images, ["a", "b", "c"], tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="captions"):
        captioned_grid(images, ["only one"])


def test_captioned_grid_draws_a_10_mb_caption_in_moments_as_its_start():
    """Only the start of a caption is drawn; wrapping all of a 10 MB caption took minutes (textwrap is quadratic
    in a long word)."""
    import time

    images = np.zeros((2, 3, 32, 32, 3))
    long_word, long_text = "x" * 10_000_000, "a red flower " * 800_000
    started = time.perf_counter()
    whole = np.asarray(captioned_grid(images, [long_word, long_text]))
    assert time.perf_counter() - started < 5
    np.testing.assert_array_equal(whole, np.asarray(captioned_grid(images, [long_word[:2000], long_text[:2000]])))
    assert not np.array_equal(whole, np.asarray(captioned_grid(images, [long_word[:20], long_text[:20]])))


class _Model:
    stop_training = False


def test_training_guard_stops_on_nan_and_on_collapse():
    guard = TrainingGuard(patience=2)
    guard.set_model(_Model())
    guard.on_train_batch_end(0, {"d_loss": 0.5, "g_loss": float("nan")})
    assert guard.model.stop_training and "g_loss became nan" in guard.reason
    guard = TrainingGuard(patience=2)
    guard.set_model(_Model())
    for epoch, g_loss in enumerate([1.0, 2.0, 3.0]):
        guard.on_epoch_end(epoch, {"d_loss": 0.01, "g_loss": g_loss})
    assert guard.model.stop_training and guard.reason.startswith("collapse")
    healthy = TrainingGuard(patience=2)
    healthy.set_model(_Model())
    for epoch, g_loss in enumerate([1.0, 2.0, 3.0]):
        healthy.on_epoch_end(epoch, {"d_loss": 0.6, "g_loss": g_loss})
    assert healthy.reason is None


def test_sample_grid_saves_each_epoch_but_not_after_divergence(tmp_path):
    from gan.train import SampleGrid

    model = _tiny_gan()
    guard = TrainingGuard()
    grid = SampleGrid(tmp_path, ["a red circle", "a blue square"], columns=2, seed=0, guard=guard)
    grid.set_model(model)
    grid.on_epoch_begin(0)
    grid.on_epoch_end(0)
    assert (tmp_path / "samples" / "epoch_0001.png").is_file() and (tmp_path / "model.keras").is_file()
    saved = (tmp_path / "model.keras").stat().st_mtime_ns
    guard.set_model(model)
    guard.on_train_batch_end(3, {"d_loss": float("inf"), "g_loss": 1.0})
    grid.on_epoch_begin(1)
    grid.on_epoch_end(1)
    assert guard.diverged and not (tmp_path / "samples" / "epoch_0002.png").exists()
    assert (tmp_path / "model.keras").stat().st_mtime_ns == saved


def test_mismatched_captions_never_share_the_match_key():
    text = tf.constant([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9], [1.0, 0.05]])
    keys = tf.constant([0, 0, 1, 2, 3])
    hardest = _tiny_gan(mismatch="hardest")._mismatched(text, keys).numpy()
    # example 0 (key 0): the most similar caption with another key is example 4; example 1 likewise
    np.testing.assert_allclose(hardest, text.numpy()[[4, 4, 3, 2, 0]])
    random = _tiny_gan()._mismatched(text, keys).numpy()
    np.testing.assert_allclose(random, text.numpy()[[2, 2, 3, 4, 0]])  # the next example with another key
    np.testing.assert_allclose(_tiny_gan()._mismatched(text).numpy(), text.numpy()[[1, 2, 3, 4, 0]])
    with pytest.raises(ValueError, match="mismatch"):
        _tiny_gan(mismatch="easy")


def test_caption_embeddings_are_the_frozen_encoders_rows():
    """The table holds ψ(t) of each distinct caption as the encoder computes it from the step's tokens (cut at
    max_length, stripped, lowercased); a caption outside it is an error, not a silent row."""
    from gan.caption_embeddings import CaptionEmbeddings

    model = _tiny_gan()
    captions = ["a red circle", "  A Blue Square ", "a green star " * 4, "x"]
    table = CaptionEmbeddings(model.text_encoder, captions * 3, max_length=24, batch_size=3)
    assert len(table) == 4 and table.matrix.shape == (4, 24)
    expected = model.text_encoder(model.vocab.encode(captions, 24), training=False).numpy()
    np.testing.assert_allclose(table(tf.constant(captions)).numpy(), expected, atol=1e-6)
    with pytest.raises(tf.errors.InvalidArgumentError, match="outside the set"):
        table(tf.constant(["a purple hexagon"]))
    assert CaptionEmbeddings.fits(1000, 256) and not CaptionEmbeddings.fits(10 ** 6, 1024)
    with pytest.raises(ValueError, match="at least one caption"):
        CaptionEmbeddings(model.text_encoder, [], 24)


def test_precomputed_text_embeddings_train_as_the_encoder_pass():
    """A step on ``text_embedding`` (the frozen encoder's rows) gives the weights of a step on ``text_ids``; a
    jointly trained encoder refuses them."""
    captions = ["a red circle", "a blue square", "a small green star", "a big yellow triangle"] * 2
    images = np.random.default_rng(1).uniform(-1, 1, (8, 16, 16, 3)).astype("float32")
    weights = []
    for kind in ("text_ids", "text_embedding"):
        keras.utils.set_random_seed(0)
        model = _tiny_gan()
        ids = model.vocab.encode(captions, 24)
        text = ids if kind == "text_ids" else model.text_encoder(ids, training=False).numpy()
        model.fit({"image": images, kind: text, "match_key": np.arange(8, dtype="int32") % 4}, batch_size=8,
                  epochs=2, verbose=0)
        weights.append([w.numpy() for w in model.generator.weights + model.discriminator.weights])
    for by_ids, by_embeddings in zip(*weights):
        np.testing.assert_allclose(by_embeddings, by_ids, atol=1e-5)
    joint = _tiny_gan(train_text_encoder=True)
    with pytest.raises(ValueError, match="frozen text encoder"):
        joint.fit({"image": images, "text_embedding": np.zeros((8, 24), "float32")}, batch_size=8, verbose=0)


def test_training_stream_carries_the_frozen_encoders_embeddings():
    """With the frozen encoder, ``training_dataset`` serves ψ(t) in place of the tokens, row for row the encoder's
    output on the tokens the same stream serves without it."""
    from gan.train import T2IConfig, training_dataset

    config = T2IConfig(limit=256, max_length=48)
    encoder = CharRNNEncoder(CharVocab(), embedding_dim=8, cell="gru", units=16, output_dim=24)
    by_ids = next(iter(training_dataset(config, encoder.vocab, 16, skip_batches=3)))
    by_embeddings = next(iter(training_dataset(config, encoder.vocab, 16, skip_batches=3, text_encoder=encoder)))
    assert "text_ids" not in by_embeddings and by_embeddings["text_embedding"].shape == (16, 24)
    np.testing.assert_array_equal(by_embeddings["image"], by_ids["image"])
    np.testing.assert_array_equal(by_embeddings["match_key"], by_ids["match_key"])
    np.testing.assert_allclose(by_embeddings["text_embedding"], encoder(by_ids["text_ids"], training=False),
                               atol=1e-6)


def test_hinge_losses_equal_numpy():
    from gan.model import hinge_losses

    s_real, s_wrong, s_fake, s_int = (np.array(v, np.float32) for v in ([2.0, 0.3, -1.5], [-2.0, 0.5, 1.0],
                                                                       [-0.2, -1.5, 3.0], [0.7, -0.1, 2.0]))
    d_loss, g_loss = hinge_losses(s_real, s_wrong, s_fake, s_int, interpolation_weight=0.5)
    def relu(x):
        return np.maximum(x, 0.0)

    np.testing.assert_allclose(d_loss, relu(1 - s_real) + 0.5 * (relu(1 + s_wrong) + relu(1 + s_fake)), rtol=1e-6)
    np.testing.assert_allclose(g_loss, -s_fake - 0.5 * s_int, rtol=1e-6)


def test_diff_augment_translates_and_cuts_out_and_passes_gradients():
    from gan.model import diff_augment

    images = tf.reshape(tf.range(2 * 16 * 16 * 3, dtype=tf.float32) + 1.0, (2, 16, 16, 3))
    # U = 0 gives the largest shift up-left: offset 0 of 2·2 + 1 → the image moves 2 px down and right.
    shifted = diff_augment(images, tf.constant([[0.0, 0.0, 0.0, 0.0], [0.99, 0.5, 0.0, 0.0]]), ("translation",))
    np.testing.assert_array_equal(shifted[0, 2:, 2:], images[0, :-2, :-2])
    assert float(tf.reduce_max(tf.abs(shifted[0, :2]))) == 0.0
    assert float(tf.reduce_max(tf.abs(shifted[0, :, :2]))) == 0.0
    np.testing.assert_array_equal(shifted[1, :-2, :], images[1, 2:, :])  # rows moved up, columns kept
    cut = diff_augment(images, tf.constant([[0.0, 0.0, 0.5, 0.5], [0.0, 0.0, 0.0, 0.99]]), ("cutout",))
    zeros = tf.reduce_all(tf.equal(cut, 0.0), axis=-1).numpy()
    # a square of side 16/4 = 4 from centre - 2: rows and columns 6-9; at the corner (0, 15) only 2 x 3 of it
    assert zeros[0].sum() == 16 and zeros[0, 6:10, 6:10].all()
    assert zeros[1].sum() == 6 and zeros[1, :2, 13:].all()
    np.testing.assert_array_equal(cut.numpy()[~zeros], images.numpy()[~zeros])
    with tf.GradientTape() as tape:
        tape.watch(images)
        total = tf.reduce_sum(diff_augment(images, tf.fill((2, 4), 0.3), ("translation", "cutout")))
    gradient = tape.gradient(total, images).numpy()
    assert set(np.unique(gradient)) <= {0.0, 1.0} and gradient.sum() > 0.5 * gradient.size


def test_mode_seeking_ratio_equals_numpy():
    from gan.model import mode_seeking_ratio

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 3, 4, 4, 3)).astype(np.float32)
    z_a, z_b = rng.normal(size=(2, 3, 5)).astype(np.float32)
    expected = np.abs(a - b).mean(axis=(1, 2, 3)) / np.abs(z_a - z_b).mean(axis=1)
    np.testing.assert_allclose(mode_seeking_ratio(a, b, z_a, z_b), expected, rtol=1e-5)


@pytest.mark.parametrize("options", [
    dict(spectral_norm=True),  # with the default concatenated text and cross-entropy loss
    dict(conditioning="projection", spectral_norm=True, loss="hinge", augment=("translation", "cutout"),
         upsampling="resize", ema_decay=0.9, diversity_weight=1.0),
])
def test_recipe_options_train_and_round_trip(options, tmp_path):
    """Each option the recipes choose from (the loss, the conditioning and the upsampling are independent code
    paths, so they train together here) trains a step and survives save and load."""
    model = _tiny_gan(**options)
    rng = np.random.default_rng(0)
    data = {"image": rng.uniform(-1, 1, (16, 16, 16, 3)).astype("float32"),
            "text_ids": rng.integers(1, 20, (16, 24)).astype("int32")}
    before = [w.numpy().copy() for w in model.discriminator.trainable_weights]
    history = model.fit(tf.data.Dataset.from_tensor_slices(data).batch(8), epochs=1, verbose=0)
    assert all(np.isfinite(v[-1]) for v in history.history.values())
    assert any(not np.allclose(a, b.numpy()) for a, b in zip(before, model.discriminator.trainable_weights))
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    for key, value in options.items():
        assert loaded.get_config()[key] == (list(value) if isinstance(value, tuple) else value)
    np.testing.assert_allclose(model.generate(["a red circle"], n=2, seed=3),
                               loaded.generate(["a red circle"], n=2, seed=3), atol=1e-6)


def test_spectral_norm_keeps_each_discriminator_kernel_at_norm_one():
    model = _tiny_gan(spectral_norm=True, conditioning="projection")
    rng = np.random.default_rng(1)
    data = {"image": rng.uniform(-1, 1, (8, 16, 16, 3)).astype("float32"),
            "text_ids": rng.integers(1, 20, (8, 24)).astype("int32")}
    model.fit(tf.data.Dataset.from_tensor_slices(data).batch(8).repeat(), steps_per_epoch=30, epochs=1, verbose=0)
    wrapped = [layer for layer in model.discriminator.layers if isinstance(layer, keras.layers.SpectralNormalization)]
    assert len(wrapped) >= 4 and not any(isinstance(layer, keras.layers.BatchNormalization)
                                         for layer in model.discriminator.layers)
    for layer in wrapped:  # the kernel D used in its last step, reshaped to [fan_in, out]: largest singular value 1
        kernel = layer.layer.kernel.numpy().reshape(-1, layer.layer.kernel.shape[-1])
        assert abs(np.linalg.svd(kernel, compute_uv=False)[0] - 1.0) < 0.1, layer.name


def test_recipe_option_validation():
    for kwargs, match in [(dict(loss="wasserstein"), "loss"), (dict(conditioning="film"), "conditioning"),
                          (dict(upsampling="pixelshuffle"), "upsampling"), (dict(augment=("colour",)), "never colour")]:
        with pytest.raises(ValueError, match=match):
            _tiny_gan(**kwargs)


INITIAL_WEIGHTS = """
import hashlib
import numpy as np
from gan.train import T2IConfig, build_gan, build_text_encoder
from zoo.seeding import set_seed

def initial_weights_hash():
    config = T2IConfig(image_size=16, ngf=4, ndf=4, pretrain_steps=0, matching_weight=0.0, seed=3)
    set_seed(3)
    model = build_gan(config, build_text_encoder(config))
    return hashlib.sha256(b"".join(np.asarray(w).tobytes() for w in model.get_weights())).hexdigest()
"""


def test_initial_weights_depend_only_on_the_seed_in_every_process():
    """A fresh process and this one (which imported gan.model long ago, with another random state), the same seed:
    the same initial G and D (they differed while one module-level initialiser, seeded at import, served every
    layer), and same-shaped layers start apart."""
    import os
    import subprocess
    import sys

    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "-1"}
    done = subprocess.run([sys.executable, "-c", INITIAL_WEIGHTS + "print('HASH', initial_weights_hash())"],
                          capture_output=True, text=True, env=environment, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    fresh = next(line for line in done.stdout.splitlines() if line.startswith("HASH "))
    scope = {}
    exec(INITIAL_WEIGHTS, scope)
    assert fresh == "HASH " + scope["initial_weights_hash"]()
    keras.utils.set_random_seed(0)
    model = TextToImageGAN(CharRNNEncoder(CharVocab(), embedding_dim=4, units=8, output_dim=12), image_size=16,
                           z_dim=4, text_proj_dim=6, ngf=4, ndf=4, max_length=20)
    model.build()
    g_text = model.generator.get_layer("g_text_projection").get_weights()[0]
    d_text = model.discriminator.get_layer("d_text_projection").get_weights()[0]
    assert g_text.shape == d_text.shape and not np.array_equal(g_text, d_text)
