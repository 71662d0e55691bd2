"""JointEmbedding: the DS-SJE loss, class batches, saving, distribution, and the captioned MNIST demo."""

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from zoo.text import captions
from zoo.text.encoders import CharRNNEncoder
from zoo.text.joint_embedding import (
    JointEmbedding,
    class_batches,
    class_embeddings,
    ds_sje_terms,
    zero_shot_accuracy,
)
from zoo.text.vocab import CharVocab

VOCAB = CharVocab()


def loop_ds_sje(image_embeddings, text_embeddings, labels=None, margin=1.0):
    """Reed et al.'s DS-SJE by a double loop: per-pair losses and text->image top-1 hits."""
    n = len(image_embeddings)
    labels = np.arange(n) if labels is None else labels
    s = np.array([[image_embeddings[i] @ text_embeddings[j] for j in range(n)] for i in range(n)])
    losses, hits = np.zeros(n), np.zeros(n)
    for i in range(n):
        for j in range(n):
            if labels[j] != labels[i]:
                losses[i] += max(0.0, margin + s[i, j] - s[i, i]) + max(0.0, margin + s[j, i] - s[i, i])
        hits[i] = labels[int(np.argmax(s[:, i]))] == labels[i]
    return losses, hits


def tiny_model(output_dim=4):
    text = CharRNNEncoder(VOCAB, embedding_dim=4, cell="elman", units=6, output_dim=output_dim)
    image = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(output_dim)], name="image_encoder")
    return JointEmbedding(text, image, margin=1.0)


def synthetic(n=10, size=6, seed=0):
    """Images whose pixels spell their label, labels 0..n-1, one caption list per class."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.repeat(np.arange(n), 3))
    images = np.repeat(labels[:, None, None], size, 1).repeat(size, 2).astype(np.uint8) * 20
    names = captions.CLASS_NAMES["mnist"]
    class_captions = [[f"digit {w}", f"the number {d}"] for w, d in names[:n]]
    return images, labels, class_captions


class TestLoss:
    @pytest.mark.parametrize("with_labels", [False, True])
    def test_equals_the_double_loop(self, with_labels):
        rng = np.random.default_rng(1)
        image, text = rng.normal(size=(7, 5)).astype(np.float32), rng.normal(size=(7, 5)).astype(np.float32)
        labels = np.array([0, 1, 2, 1, 3, 4, 0]) if with_labels else None
        losses, hits = ds_sje_terms(image, text, labels)
        expected_losses, expected_hits = loop_ds_sje(image, text, labels)
        np.testing.assert_allclose(np.asarray(losses), expected_losses, rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(np.asarray(hits), expected_hits)

    def test_zero_when_matches_win_by_the_margin(self):
        image = np.eye(4, dtype=np.float32) * 2
        losses, hits = ds_sje_terms(image, np.eye(4, dtype=np.float32))
        np.testing.assert_array_equal(np.asarray(losses), 0)
        np.testing.assert_array_equal(np.asarray(hits), 1)

    def test_evaluate_reports_the_mean_pair_loss_and_top1(self):
        keras.utils.set_random_seed(2)
        model = tiny_model()
        model.compile(optimizer="sgd")
        images, labels, class_captions = synthetic(n=5, size=4)
        ids = VOCAB.encode([class_captions[c][0] for c in labels], 16)
        x = (images.astype(np.float32)[..., None] / 255, ids)
        result = model.evaluate(x, labels, batch_size=len(labels), verbose=0, return_dict=True)
        image_embeddings, text_embeddings = (np.asarray(t) for t in model(x))
        losses, hits = loop_ds_sje(image_embeddings, text_embeddings, labels)
        assert result["loss"] == pytest.approx(losses.mean(), rel=1e-4)
        assert result["top1"] == pytest.approx(hits.mean())

    def test_train_step_is_the_gradient_of_the_mean_pair_loss(self):
        import tensorflow as tf

        keras.utils.set_random_seed(3)
        model = tiny_model()
        images, labels, class_captions = synthetic(n=6, size=4)
        ids = VOCAB.encode([class_captions[c][1] for c in labels[:6]], 16)
        batch = (images[:6].astype(np.float32)[..., None] / 255, ids)
        model(batch)
        with tf.GradientTape() as tape:
            losses, _ = ds_sje_terms(*model(batch, training=True), labels[:6])
            loss = tf.reduce_mean(losses)
        grads = tape.gradient(loss, model.trainable_weights)
        expected = [w.numpy() - 0.1 * tf.convert_to_tensor(g).numpy() for w, g in zip(model.trainable_weights, grads)]
        model.compile(optimizer=keras.optimizers.SGD(0.1))
        model.fit(batch, labels[:6], batch_size=6, epochs=1, verbose=0, shuffle=False)
        for w, e in zip(model.trainable_weights, expected):
            np.testing.assert_allclose(w.numpy(), e, atol=1e-5)


class TestModel:
    def test_keras_round_trip_with_safe_mode(self, tmp_path):
        model = JointEmbedding(CharRNNEncoder(VOCAB, embedding_dim=4, cell="gru", units=5, output_dim=6))
        images, labels, class_captions = synthetic(n=4, size=8)
        x = (images.astype(np.float32)[..., None] / 255, VOCAB.encode([class_captions[c][0] for c in labels], 20))
        expected = [np.asarray(t) for t in model(x)]
        path = tmp_path / "joint.keras"
        model.save(path)
        loaded = keras.saving.load_model(path, safe_mode=True)
        assert isinstance(loaded, JointEmbedding) and loaded.vocab == VOCAB
        for got, want in zip(loaded(x), expected):
            np.testing.assert_array_equal(np.asarray(got), want)
        with pytest.raises(ValueError, match=VOCAB.fingerprint()):
            loaded.text_encoder.check_vocab(CharVocab(lowercase=False))

    def test_embedding_sizes_must_agree(self):
        text = CharRNNEncoder(VOCAB, embedding_dim=4, units=4, output_dim=5)
        image = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(3)])
        with pytest.raises(ValueError, match="must agree"):
            JointEmbedding(text, image)((np.zeros((2, 4, 4, 1), np.float32), np.ones((2, 5), np.int32)))

    @pytest.mark.parametrize("kwargs, error", [({"text_encoder": "lstm"}, TypeError),
                                               ({"margin": 0}, ValueError),
                                               ({"image_encoder": 3}, TypeError)])
    def test_bad_arguments(self, kwargs, error):
        arguments = {"text_encoder": CharRNNEncoder(VOCAB, units=4, output_dim=4), **kwargs}
        with pytest.raises(error):
            JointEmbedding(**arguments)


class TestData:
    def test_class_batches_hold_one_matching_pair_per_class(self):
        images, labels, class_captions = synthetic(n=6, size=4)
        dataset = class_batches(images, labels, class_captions, VOCAB, max_length=20, classes_per_batch=4, seed=5)
        seen = set()
        for (batch_images, ids), batch_labels in dataset.take(20).as_numpy_iterator():
            assert batch_images.shape == (4, 4, 4, 1) and ids.shape == (4, 20) and ids.dtype == np.int32
            assert len(set(batch_labels)) == 4
            np.testing.assert_allclose(batch_images[:, 0, 0, 0], batch_labels * 20 / 255, rtol=1e-6)
            for text, label in zip(VOCAB.decode(ids), batch_labels):
                assert text in class_captions[label]
                seen.add(text)
        assert len(seen) > 8
        again = next(iter(class_batches(images, labels, class_captions, VOCAB, 20, 4, seed=5)))
        first = next(iter(dataset))
        np.testing.assert_array_equal(again[0][1].numpy(), first[0][1].numpy())

    def test_class_batches_validates(self):
        images, labels, class_captions = synthetic(n=3, size=4)
        with pytest.raises(ValueError, match="classes_per_batch"):
            class_batches(images, labels, class_captions, VOCAB, classes_per_batch=4)
        with pytest.raises(ValueError, match="labels"):
            class_batches(images, labels[:-1], class_captions, VOCAB)
        with pytest.raises(ValueError, match="class_captions"):
            class_batches(images, labels, class_captions[:2], VOCAB)

    def test_zero_shot_accuracy_equals_nearest_class_text(self):
        model = tiny_model()
        images, labels, class_captions = synthetic(n=5, size=4)
        model((np.zeros((1, 4, 4, 1), np.float32), np.ones((1, 8), np.int32)))
        prototypes = np.stack([
            np.mean([model.text_encoder(VOCAB.encode(c, 64)).numpy()[k] for k in range(len(c))], axis=0)
            for c in class_captions
        ])
        np.testing.assert_allclose(class_embeddings(model, class_captions), prototypes, atol=1e-5)
        phi = model.image_encoder(images.astype(np.float32)[..., None] / 255).numpy()
        expected = np.mean(np.argmax(phi @ prototypes.T, 1) == labels)
        assert zero_shot_accuracy(model, images, labels, class_captions) == pytest.approx(expected)


class TestCaptions:
    def test_varied_deterministic_captions(self):
        first = captions.class_captions("mnist", seed=0)
        assert len(first) == 10
        assert "a handwritten digit seven" in first[7] and "the number 7" in first[7]
        assert len(set(first[7])) == len(first[7]) >= 10
        assert captions.class_captions("mnist", seed=0) == first
        assert captions.class_captions("mnist", seed=1) != first
        fashion = captions.class_captions("fashion_mnist")
        assert "a photo of a sneaker" in fashion[7]
        assert all(VOCAB.encode(c, 64).max() < VOCAB.unk_id for group in fashion for c in group)

    def test_split_templates_are_disjoint(self):
        seen, unseen = captions.split_templates("fashion_mnist", held_out=2, seed=3)
        assert len(unseen) == 2 and not set(seen) & set(unseen)
        assert sorted(seen + unseen) == sorted(captions.TEMPLATES["fashion_mnist"])
        with pytest.raises(ValueError, match="held_out"):
            captions.split_templates("mnist", held_out=8)
        with pytest.raises(ValueError, match="name"):
            captions.class_captions("cifar10")
        with pytest.raises(ValueError, match="{name}"):
            captions.class_captions("mnist", templates=["no field"])


DISTRIBUTED = textwrap.dedent(
    """
    import numpy as np, tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    from zoo.text.encoders import CharRNNEncoder
    from zoo.text.joint_embedding import JointEmbedding, ds_sje_terms
    from zoo.text.vocab import CharVocab

    def make():
        keras.utils.set_random_seed(0)
        text = CharRNNEncoder(CharVocab(), embedding_dim=4, cell="elman", units=5, output_dim=3)
        image = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(3)])
        model = JointEmbedding(text, image)
        model((np.zeros((1, 2, 2, 1), np.float32), np.ones((1, 10), np.int32)))
        return model

    rng = np.random.default_rng(0)
    images = rng.normal(size=(8, 2, 2, 1)).astype(np.float32)
    ids = CharVocab().encode(["a cat %d" % i for i in range(8)], 10)
    reference = make()
    with tf.GradientTape() as tape:
        halves = [ds_sje_terms(*reference((images[k:k + 4], ids[k:k + 4]), training=True))[0] for k in (0, 4)]
        loss = (tf.reduce_sum(halves[0]) + tf.reduce_sum(halves[1])) / 8.0
    grads = tape.gradient(loss, reference.trainable_weights)
    expected = [w.numpy() - 0.5 * tf.convert_to_tensor(g).numpy() for w, g in zip(reference.trainable_weights, grads)]
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        model = make()
        model.compile(optimizer=keras.optimizers.SGD(0.5))
    data = tf.data.Dataset.from_tensors(((images, ids),))
    history = model.fit(data, epochs=1, verbose=0)
    assert abs(history.history["loss"][0] - float(tf.reduce_mean(tf.concat(halves, 0)))) < 1e-4, history.history
    for w, e in zip(model.trainable_weights, expected):
        np.testing.assert_allclose(w.numpy(), e, atol=1e-5)
    print("distributed ok")
    """
)


def test_mirrored_strategy_scales_by_the_global_batch():
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "-1"}
    done = subprocess.run([sys.executable, "-c", DISTRIBUTED], capture_output=True, text=True, env=environment,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "distributed ok" in done.stdout


def test_captioned_mnist_beats_chance(shared_data_dir):
    metrics = captions.train_captioned_mnist("mnist", data_dir=shared_data_dir / "mnist", epochs=1,
                                             steps_per_epoch=150, train_size=600, test_size=300, seed=0)
    assert metrics["train_size"] == 600 and metrics["test_size"] == 300
    assert metrics["zero_shot_accuracy"] > 0.3, metrics
    assert metrics["top1"] > 0.25, metrics


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_captioned_demo_full(shared_data_dir, name):
    metrics = captions.train_captioned_mnist(name, data_dir=shared_data_dir / name, epochs=3, steps_per_epoch=200,
                                             train_size=10_000, test_size=2_000, seed=0)
    assert metrics["zero_shot_accuracy"] > (0.85 if name == "mnist" else 0.65), metrics
    assert metrics["zero_shot_accuracy_unseen_templates"] > (0.85 if name == "mnist" else 0.65), metrics


def test_ds_sje_terms_hardest_negative_is_the_largest_hinge():
    rng = np.random.default_rng(0)
    images, texts = rng.normal(size=(5, 3)).astype("float32"), rng.normal(size=(5, 3)).astype("float32")
    labels = np.array([0, 1, 0, 2, 3])
    scores = images @ texts.T
    summed = keras.ops.convert_to_numpy(ds_sje_terms(images, texts, labels)[0])
    hardest = keras.ops.convert_to_numpy(ds_sje_terms(images, texts, labels, reduce="max")[0])
    for i in range(5):
        others = [j for j in range(5) if labels[j] != labels[i]]
        image_to_text = [max(0.0, 1 + scores[i, j] - scores[i, i]) for j in others]
        text_to_image = [max(0.0, 1 + scores[j, i] - scores[i, i]) for j in others]
        np.testing.assert_allclose(summed[i], sum(image_to_text) + sum(text_to_image), rtol=1e-5)
        np.testing.assert_allclose(hardest[i], max(image_to_text) + max(text_to_image), rtol=1e-5)
    with pytest.raises(ValueError, match="reduce"):
        ds_sje_terms(images, texts, labels, reduce="mean")
