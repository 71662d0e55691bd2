"""The flowers evaluation (gan.metrics.evaluate_flowers): its parts against closed forms, and `evaluate_t2i` end
to end on an untrained model and a tiny data folder in the official layout."""

import json
from functools import partial

import numpy as np
import pytest

from gan import metrics as fm
from tests.test_flower_colours import drawn_flower
from tests.test_gan_data import tiny_flowers  # noqa: F401  (a pytest fixture)


def test_frechet_distance_of_one_dimensional_gaussians_has_its_closed_form():
    rng = np.random.default_rng(0)
    a, b = rng.normal(1.0, 2.0, (4000, 1)), rng.normal(-0.5, 0.5, (3000, 1))
    sa, sb = a.std(ddof=1), b.std(ddof=1)
    expected = (a.mean() - b.mean()) ** 2 + sa**2 + sb**2 - 2 * sa * sb
    assert fm.frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)
    assert fm.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    many = rng.normal(size=(500, 6))
    assert fm.frechet_distance(many, many + 3.0) == pytest.approx(6 * 9.0, rel=1e-6)  # a shift adds |Δμ|²
    with pytest.raises(ValueError, match="at least 2 rows"):
        fm.frechet_distance(a[:1], b)


def test_frechet_distance_equals_the_matrix_square_root_formula_and_stays_quiet_when_singular():
    """Against scipy's general matrix square root on correlated features, and on fewer rows than features (singular
    covariances: scipy warns there and loses accuracy; the eigenvalue form gives a finite, non-negative value)."""
    import warnings

    from scipy import linalg

    rng = np.random.default_rng(1)
    a = rng.normal(size=(800, 5)) @ rng.normal(size=(5, 5))
    b = rng.normal(0.3, 1.0, (600, 5)) @ rng.normal(size=(5, 5))
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    expected = (np.sum((a.mean(0) - b.mean(0)) ** 2)
                + np.trace(cov_a + cov_b - 2.0 * np.real(linalg.sqrtm(cov_a @ cov_b))))
    assert fm.frechet_distance(a, b) == pytest.approx(expected, rel=1e-8)
    few_a, few_b = rng.normal(size=(20, 64)), rng.normal(size=(30, 64))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        singular = fm.frechet_distance(few_a, few_b)
    assert np.isfinite(singular) and singular >= 0.0
    assert fm.frechet_distance(few_a, few_a) == pytest.approx(0.0, abs=1e-7 * 2 * 64)  # rounding of the traces


def test_top_k_accuracy():
    probabilities = np.array([[0.1, 0.5, 0.4], [0.6, 0.3, 0.1], [0.2, 0.3, 0.5]])
    assert fm.top_k_accuracy(probabilities, [2, 0, 0], 1) == pytest.approx(1 / 3)
    assert fm.top_k_accuracy(probabilities, [2, 0, 0], 2) == pytest.approx(2 / 3)
    assert fm.top_k_accuracy(probabilities, [2, 0, 0], 3) == 1.0


def test_colour_accuracy_of_drawn_flowers_in_both_value_ranges():
    from gan.data.flower_colours import COLOUR_NAMES

    images = np.stack([drawn_flower((130, 60, 160), (250, 220, 40)), drawn_flower((210, 25, 35), (20, 15, 20))])
    petal = [COLOUR_NAMES.index("purple"), COLOUR_NAMES.index("blue")]  # the second asks for the wrong petal
    centre = [COLOUR_NAMES.index("yellow"), COLOUR_NAMES.index("black")]
    assert fm.flower_colour_accuracy(images, petal, centre) == {"petal": 0.5, "centre": 1.0, "both": 0.5}
    assert fm.flower_colour_accuracy(images / 127.5 - 1.0, petal, centre)["petal"] == 0.5


def test_kzoo_evaluate_t2i_on_flowers_end_to_end(tiny_flowers, tmp_path, monkeypatch, capsys):  # noqa: F811
    """`kzoo evaluate t2i` on an untrained flowers model, its data prepared in the same run: stdout is the one JSON
    (TFDS's own messages go to stderr), the summary table goes to stderr."""
    from gan import metrics
    from tests.test_gan_metrics import saved_run
    from zoo.cli import main

    monkeypatch.setenv("KZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(metrics, "retrieval_embedding", partial(metrics.retrieval_embedding, steps=5))
    run = saved_run(tmp_path, {"dataset": "flowers102", "data_dir": str(tiny_flowers)})  # an untrained 32 px model
    capsys.readouterr()
    assert main(["evaluate", "t2i", "--model", str(run), "--samples", "4"]) == 0
    out, err = capsys.readouterr()
    result = json.loads(out)
    assert "Downloading and preparing dataset" in err and "| petal colour | " in err
    assert result["dataset"] == "flowers102" and result["image_size"] == 32
    seen, unseen = result["seen"], result["unseen"]
    assert seen["classes"] == 1 and unseen["classes"] == 2  # label 41 is trained on; 1 and 2 are held out
    assert "petals" in seen["example_caption"]
    for group in (seen, unseen):
        assert group["colour_accuracy_real"]["petal"] == 1.0  # solid-colour images: the same colour at any size
        for key in ("judge_top1", "judge_top5", "judge_top1_real", "judge_top5_real"):
            assert 0.0 <= group[key] <= 1.0
        assert group["judge_top1"] <= group["judge_top5"]
        assert group["diversity_ratio"] is None or group["diversity_ratio"] >= 0
    table = fm.format_flowers_summary(result)
    assert table.count("\n") == len(fm.FLOWERS_SUMMARY_ROWS) + 1 and "| petal colour | " in table
    json.dumps(result)
