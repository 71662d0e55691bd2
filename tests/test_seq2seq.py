"""Tests of the dates task generator and of zoo.text.CharSeq2Seq (teacher forcing vs greedy decoding)."""

import datetime as dt

import keras
import numpy as np
import pytest

from zoo.text import CharSeq2Seq, dates
from zoo.text.seq2seq import date_vocabularies, load_seq2seq, source_sequences, target_sequences, train_seq2seq


def test_every_format_parses_back_with_strptime():
    rng = np.random.default_rng(0)
    days = dates.day_range()
    for pattern in dates.DATE_FORMATS:
        for index in rng.integers(0, len(days), 30):
            day = days[index]
            for pad in (True, False):
                for case in dates.CASES:
                    text = dates.format_date(day, pattern, pad_day=pad, case=case)
                    assert dt.datetime.strptime(text, pattern).date() == day, (text, pattern)


def test_examples_from_the_issue():
    day = dt.date(2026, 11, 22)
    assert dates.format_date(day, "%d %B %Y", case="lower") == "22 november 2026"
    assert dates.format_date(day, "%b %d, %Y") == "Nov 22, 2026"
    assert dates.format_date(day, "%Y/%m/%d") == "2026/11/22"
    assert dates.format_date(day, "%d.%m.%y") == "22.11.26"
    assert dates.format_date(dt.date(2026, 11, 2), "%Y%m%d", pad_day=False) == "20261102"


def test_split_is_deterministic_and_held_out_days_are_disjoint():
    train, test = dates.train_test_split(3000, 500, seed=4)
    assert (train, test) == dates.train_test_split(3000, 500, seed=4)
    assert train != dates.train_test_split(3000, 500, seed=5)[0]
    assert len(train) == 3000 and len(test) == 500 == len({iso for _, iso in test})
    assert not {iso for _, iso in train} & {iso for _, iso in test}
    assert not {text for text, _ in train} & {text for text, _ in test}
    for text, iso in test[:50]:
        assert dt.date.fromisoformat(iso).isoformat() == iso


def _model(attention=True, one_hot=False, cell="lstm", seed=0):
    keras.utils.set_random_seed(seed)
    source, target = date_vocabularies()
    model = CharSeq2Seq(source, target, embedding_dim=8, units=16, cell=cell, attention=attention,
                        one_hot=one_hot, max_source_length=40, max_output_length=10)
    model.build()
    return model


def test_bucketed_pipeline_pads_within_buckets_and_weights_out_padding():
    model = _model()
    pairs, _ = dates.train_test_split(300, 10, seed=0)
    sources, targets = zip(*pairs)
    ds = dates.bucketed_dataset(source_sequences(model, sources), target_sequences(model, targets),
                                batch_size=32)
    seen, bounds = 0, [0, 12, 16, 20, 24, 32, 41]
    for (src, dec_in), dec_out, weights in ds:
        src, dec_in, dec_out, weights = map(np.asarray, (src, dec_in, dec_out, weights))
        lengths = (src != 0).sum(1)
        bucket = np.searchsorted(bounds, lengths, side="right")
        assert len(set(bucket)) == 1 and src.shape[1] == bounds[bucket[0]] - 1
        assert (dec_in[:, 0] == model.bos_id).all() and (dec_out[:, -1] == model.eos_id).all()
        np.testing.assert_array_equal(weights, dec_out != 0)
        seen += len(src)
    assert seen == 300 and ds.cardinality().numpy() == len(list(ds))


@pytest.mark.parametrize("attention, one_hot, cell", [(True, False, "lstm"), (False, True, "gru")])
def test_greedy_decoding_logits_equal_teacher_forced_logits(attention, one_hot, cell):
    model = _model(attention, one_hot, cell)
    ids = model.encode_texts(["nov 22, 2026", "22.11.26"])
    out, logits = model.greedy_decode(ids, max_length=6, return_logits=True)
    masked = logits.copy()
    masked[..., [0, model.bos_id]] = -np.inf  # greedy decoding never emits padding or BOS
    tokens = masked.argmax(-1)
    decoder_in = np.concatenate([np.full((2, 1), model.bos_id), tokens[:, :-1]], axis=1).astype(np.int32)
    forced = np.asarray(model((ids, decoder_in)))
    for row in range(2):
        # Up to and including the first EOS; after it greedy decoding pads the output.
        eos = np.flatnonzero(tokens[row] == model.eos_id)
        stop = eos[0] + 1 if len(eos) else tokens.shape[1]
        np.testing.assert_allclose(forced[row, :stop], logits[row, :stop], atol=1e-5)
        expected = np.where(tokens[row, :stop] == model.eos_id, 0, tokens[row, :stop])[:6]
        np.testing.assert_array_equal(out[row, :len(expected)], expected)


def test_encoder_masks_source_padding():
    model = _model()
    ids = model.encode_texts(["nov 22, 2026"])
    padded = np.concatenate([ids, np.zeros((1, 7), np.int32)], axis=1)
    decoder_in = np.array([[model.bos_id, 3, 4, 5]], np.int32)
    np.testing.assert_allclose(np.asarray(model((padded, decoder_in))), np.asarray(model((ids, decoder_in))),
                               atol=1e-6)


def test_keras_round_trip_same_outputs(tmp_path):
    model = _model()
    ids = model.encode_texts(["nov 22, 2026", "2026/11/22"])
    decoder_in = np.array([[model.bos_id, 3, 4], [model.bos_id, 5, 6]], np.int32)
    model.save(tmp_path / "s2s.keras")
    loaded = keras.saving.load_model(tmp_path / "s2s.keras", safe_mode=True)
    assert isinstance(loaded, CharSeq2Seq) and loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(np.asarray(loaded((ids, decoder_in))), np.asarray(model((ids, decoder_in))))
    assert loaded.translate(["nov 22, 2026"]) == model.translate(["nov 22, 2026"])


def test_constructor_and_input_errors():
    source, _ = date_vocabularies()
    with pytest.raises(ValueError, match="cell"):
        CharSeq2Seq(source, cell="transformer")
    with pytest.raises(ValueError, match="units"):
        CharSeq2Seq(source, units=0)
    with pytest.raises(ValueError, match="max_source_length"):
        _model().translate(["x" * 41])
    with pytest.raises(ValueError, match="unknown task"):
        train_seq2seq(task="addition", out_dir="unused")
    with pytest.raises(FileNotFoundError, match="no model.keras"):
        load_seq2seq(".")


def test_brief_training_beats_chance_and_a_resumed_run_ends_with_the_same_weights(tmp_path):
    settings = dict(n_train=2000, n_test=100, units=32, batch_size=32, learning_rate=1e-2, bucket_boundaries=(41,),
                    verbose=0)
    metrics = train_seq2seq(out_dir=tmp_path / "whole", epochs=2, **settings)
    history = __import__("json").loads((tmp_path / "whole" / "history.json").read_text())
    assert history[1]["loss"] < history[0]["loss"]
    # Chance per character is 1/11 (digits and '-'), so chance exact match is ~0.
    assert history[1]["val_char_accuracy"] > 0.5
    assert metrics["held_out"] == 100 and 0.0 <= metrics["exact_match"] <= 1.0
    # --evaluate-only measures the finished run again on the same held-out pairs: the same figure
    from zoo.presets.build import evaluate_run

    again = evaluate_run(tmp_path / "whole")
    assert again["held_out"] == 100 and again["exact_match"] == metrics["exact_match"]

    # one epoch, then a rerun asking for two trains only the second, from the checkpoint: the uninterrupted weights
    train_seq2seq(out_dir=tmp_path / "resumed", epochs=1, **settings)
    resumed = train_seq2seq(out_dir=tmp_path / "resumed", epochs=2, **settings)
    assert resumed["epochs_trained_now"] == [1]
    whole, resumed = load_seq2seq(tmp_path / "whole"), load_seq2seq(tmp_path / "resumed")
    assert len(whole.get_weights()) == len(resumed.get_weights()) > 0
    for a, b in zip(whole.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_dates_reach_99_percent_exact_match(tmp_path):
    metrics = train_seq2seq(out_dir=tmp_path, verbose=2)
    print(f"exact match {metrics['exact_match']:.4f} in {metrics['total_train_seconds']:.0f} s")
    assert metrics["held_out"] == 2000
    assert metrics["exact_match"] >= 0.99


def test_epoch_order_depends_on_seed_and_epoch_only():
    """The batches of epoch 2 are the same whether the pipeline starts at epoch 0 or resumes at epoch 2."""
    model = _model()
    pairs, _ = dates.train_test_split(200, 10, seed=0)
    sources, targets = zip(*pairs)
    sources, targets = source_sequences(model, sources), target_sequences(model, targets)
    steps = dates.bucketed_batches(sources, 32)

    def batches(**order):
        ds = dates.bucketed_dataset(sources, targets, 32, shuffle=True, seed=5, **order)
        return [np.asarray(src) for (src, _), _, _ in ds]

    whole, resumed = batches(epochs=3), batches(epochs=3, initial_epoch=2)
    assert len(whole) == 3 * steps and len(resumed) == steps
    for a, b in zip(whole[2 * steps:], resumed):
        np.testing.assert_array_equal(a, b)
    first = sorted(map(bytes, whole[:steps]))
    assert first != sorted(map(bytes, whole[steps:2 * steps]))  # each epoch is shuffled anew
