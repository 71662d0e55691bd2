"""gan.metrics: the shapes attribute judge, accuracies, diversity, and `evaluate_t2i` on a saved model."""

import json

import numpy as np
import pytest

from gan import metrics
from gan.model import TextToImageGAN
from tests.test_idx import write_subset
from zoo.text import CharRNNEncoder, CharVocab


def test_pairwise_rms_on_known_images():
    images = np.stack([np.zeros((2, 2)), np.ones((2, 2)), np.full((2, 2), 3.0)])
    assert metrics.pairwise_rms(images) == pytest.approx((1 + 3 + 2) / 3)


def test_accuracies_per_head_and_all():
    class Judge:
        def predict(self, images, batch_size, verbose):
            return {"a": np.eye(3)[[0, 1, 2, 0]], "b": np.eye(2)[[0, 0, 1, 1]]}

    result = metrics.accuracies(Judge(), np.zeros((4, 1)), {"a": [0, 1, 2, 2], "b": [0, 1, 1, 1]})
    assert result == {"a": 0.75, "b": 0.75, "all": 0.5}


@pytest.fixture
def small_judge(monkeypatch, tmp_path):
    """A quickly trained judge at 32 px in a temporary cache (the real one trains on 8,000 images)."""
    monkeypatch.setenv("KZOO_CACHE", str(tmp_path / "cache"))
    original = metrics.shapes_attribute_classifier

    def small(image_size=32, seed=0, train_size=8000, epochs=4):
        return original(image_size, seed=seed, train_size=1200, epochs=2)

    monkeypatch.setattr(metrics, "shapes_attribute_classifier", small)
    return small


def test_judge_learns_real_renderings_and_is_cached(small_judge, tmp_path):
    judge, accuracy = small_judge(32)
    assert set(accuracy) == {"shape", "colour", "size", "position", "all"}
    assert accuracy["position"] > 0.9 and accuracy["colour"] > 0.2  # chance: 0.25 and 0.125, after 2 small epochs
    cached = list((tmp_path / "cache" / "evaluation").glob("shapes_attributes_32px_seed0.*"))
    # the classifier, its accuracy, and the lock that kept processes running at the same time from training it twice
    assert sorted(path.suffix for path in cached) == [".json", ".keras", ".lock"]
    assert small_judge(32)[1] == accuracy  # loaded from the cache, not retrained


def saved_run(tmp_path, config):
    """A `kzoo train t2i`-like folder holding an untrained 32 px model and ``config``."""
    encoder = CharRNNEncoder(CharVocab(), embedding_dim=8, cell="gru", units=16, output_dim=24)
    model = TextToImageGAN(encoder, image_size=32, z_dim=8, text_proj_dim=8, ngf=8, ndf=8, max_length=48)
    model.compile()
    run = tmp_path / "run"
    run.mkdir()
    model.save(run / "model.keras")
    (run / "config.json").write_text(json.dumps(config))
    return run


def test_evaluate_t2i_on_a_saved_model(small_judge, tmp_path):
    run = saved_run(tmp_path, {"dataset": "shapes"})
    result = metrics.evaluate_t2i(run, samples=40)
    assert result["heldout_captions"] == 40
    judge_on_real, untrained = result["classifier_accuracy_on_real"], result["attribute_accuracy"]
    # an untrained generator draws no such picture: the judge (small here, but right about positions on real
    # renderings) finds far less in it than in real ones
    assert judge_on_real["position"] > 0.9 and untrained["position"] < judge_on_real["position"] - 0.3
    assert untrained["all"] < judge_on_real["all"]


def test_diversity_ratio_is_zero_for_a_collapsed_generator_and_one_for_real_renderings():
    """One image per caption whatever the noise gives 0; the real renderings' own spread gives about 1."""
    from gan.data.shapes import render

    class Collapsed:
        image_size = 32

        def fixed_noise(self, n, seed):
            return np.random.default_rng(seed).normal(size=(n, 4))

        def generate(self, captions, n, z):
            return np.zeros((len(captions), n, 32, 32, 3), "float32")

    assert metrics.shapes_diversity(Collapsed(), captions=2, per_caption=4)["diversity_ratio"] == 0.0

    examples = metrics.shapes_examples(2 * 7, "test", 32, 105)  # the captions shapes_diversity asks for
    attributes = {caption: [metrics.ATTRIBUTES[name][examples.labels[name][index]] for name in metrics.ATTRIBUTE_NAMES]
                  for index, caption in enumerate(examples.captions)}

    class Renderer(Collapsed):
        """Draws real renderings of the caption's attributes, with the dataset's jitter."""

        def generate(self, captions, n, z):
            rng = np.random.default_rng(int(abs(z[0, 0]) * 1e6))
            return np.stack([[render(*attributes[captions[0]], image_size=32, jitter_rng=rng) / 127.5 - 1.0
                              for _ in range(n)]])

    ratio = metrics.shapes_diversity(Renderer(), captions=2, per_caption=16)["diversity_ratio"]
    assert 0.7 < ratio < 1.4


def test_r_precision_is_one_for_aligned_embeddings_and_near_chance_for_random():
    rng = np.random.default_rng(0)
    labels = rng.integers(10, size=2000)
    onehot = np.eye(10)[labels]
    assert metrics.r_precision_of_embeddings(onehot, onehot, labels) == 1.0
    # random image embeddings: the own caption is first among 100 about 1 % of the time
    chance = metrics.r_precision_of_embeddings(rng.normal(size=(2000, 16)), rng.normal(size=(2000, 16)), labels)
    assert chance < 0.04
    with pytest.raises(ValueError, match="two classes"):
        metrics.r_precision_of_embeddings(onehot[:5], onehot[:5], np.zeros(5))


def test_evaluate_t2i_on_an_mnist_model(shared_data_dir, monkeypatch, tmp_path):
    """Class accuracy and R-precision of a (random) MNIST model beside the real-image reference, with small
    evaluation models trained into a temporary cache on the first 6,400 real training digits."""
    monkeypatch.setenv("KZOO_CACHE", str(tmp_path / "cache"))
    classifier, retrieval = metrics.class_classifier, metrics.retrieval_embedding
    monkeypatch.setattr(metrics, "class_classifier", lambda *a, **k: classifier(*a, **k, max_steps=100))
    monkeypatch.setattr(metrics, "retrieval_embedding", lambda *a, **k: retrieval(*a, **k, steps=150))
    data_dir = write_subset(shared_data_dir / "mnist", tmp_path / "mnist", train=6400, test=1000)
    run = saved_run(tmp_path, {"dataset": "mnist", "data_dir": str(data_dir)})
    result = metrics.evaluate_t2i(run, samples=200)
    assert result["dataset"] == "mnist" and result["test_captions"] == 200
    assert result["class_accuracy_real"] > 0.8  # the classifier learned real digits
    assert result["r_precision_real"] > 0.04  # chance is 0.01; a well-trained embedding gives far more
    assert result["class_accuracy"] < result["class_accuracy_real"]  # an untrained generator draws no digits
    assert result["r_precision"] < result["r_precision_real"]  # random images are not retrieved by their captions
    assert len(list((tmp_path / "cache" / "evaluation").glob("mnist_classifier_32px_*.keras"))) == 1
