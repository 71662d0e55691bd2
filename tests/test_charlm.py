"""Tests of zoo.text.CharLanguageModel: incremental sampling, metrics, saving, data windows, training."""

import json
import math

import keras
import numpy as np
import pytest

from zoo.text import CharLanguageModel
from zoo.text.language_model import (
    BitsPerChar,
    NatsPerChar,
    compile_charlm,
    read_text,
    split_text,
    text_ids,
    train_charlm,
    window_dataset,
)
from zoo.text.vocab import CharVocab

TEXT = "To be, or not to be: that is the question.\nROMEO: hello"


@pytest.fixture(scope="module")
def vocab():
    return CharVocab.from_text(TEXT)


def _model(vocab, cell="lstm", layers=2, seed=1):
    keras.utils.set_random_seed(seed)
    model = CharLanguageModel(vocab, embedding_dim=8, units=12, layers=layers, cell=cell)
    model.build((None, None))
    return model


def test_vocab_from_text_keeps_case_and_every_character(vocab):
    ids = text_ids(vocab, TEXT)
    assert vocab.decode(ids) == TEXT
    assert vocab.unk_id not in ids and vocab.pad_id not in ids
    assert "R" in vocab.alphabet and "r" in vocab.alphabet and "\n" in vocab.alphabet


@pytest.mark.parametrize("cell", ["lstm", "gru", "elman"])
def test_step_by_step_logits_equal_full_sequence_logits(vocab, cell):
    model = _model(vocab, cell)
    ids = text_ids(vocab, "ROMEO: to be")[None]
    full = np.asarray(model(ids))
    states = model.initial_states(1)
    for t in range(ids.shape[1]):
        logits, states = model.step(ids[:, t], states)
        np.testing.assert_allclose(np.asarray(logits), full[:, t], atol=1e-5)


def test_keras_round_trip_same_outputs_and_samples(vocab, tmp_path):
    model = compile_charlm(_model(vocab))
    ids = text_ids(vocab, TEXT)[None, :20]
    path = tmp_path / "lm.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(loaded, CharLanguageModel)
    assert loaded.vocab == vocab and loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(np.asarray(loaded(ids)), np.asarray(model(ids)))
    assert loaded.generate("to", 30, seed=3) == model.generate("to", 30, seed=3)


def test_generate_is_seeded_and_validates(vocab):
    model = _model(vocab, layers=1)
    a = model.generate("ROMEO:", 40, temperature=0.8, seed=7)
    assert a.startswith("ROMEO:") and len(a) == len("ROMEO:") + 40
    assert set(a) <= set(vocab.alphabet)
    assert model.generate("ROMEO:", 40, temperature=0.8, seed=7) == a
    assert model.generate("ROMEO:", 40, temperature=0.8, seed=8) != a
    assert model.generate("to", 0) == "to"
    with pytest.raises(ValueError, match="outside the model's vocabulary.*'Zé'"):
        model.generate("Zé to", 5)
    with pytest.raises(ValueError, match="temperature"):
        model.generate("to", 5, temperature=0)
    with pytest.raises(ValueError, match="prime"):
        model.generate("", 5)
    with pytest.raises(ValueError, match="length"):
        model.generate("to", -1)


def test_nats_and_bits_per_char_equal_hand_computed_cross_entropy(vocab):
    model = compile_charlm(_model(vocab))
    ids = text_ids(vocab, TEXT)
    ds = window_dataset(ids, seq_len=10, batch_size=2)
    logits, targets = [], []
    for x, y in ds:
        logits.append(np.asarray(model(x), np.float64).reshape(-1, vocab.size))
        targets.append(np.asarray(y).reshape(-1))
    logits, targets = np.concatenate(logits), np.concatenate(targets)
    log_softmax = logits - logits.max(-1, keepdims=True)
    log_softmax -= np.log(np.exp(log_softmax).sum(-1, keepdims=True))
    by_hand = -log_softmax[np.arange(len(targets)), targets].mean()
    result = model.evaluate(ds, verbose=0, return_dict=True)
    assert result["nats_per_char"] == pytest.approx(by_hand, rel=1e-5)
    assert result["bits_per_char"] == pytest.approx(by_hand / math.log(2), rel=1e-5)
    assert NatsPerChar().get_config()["name"] == "nats_per_char"
    assert BitsPerChar().get_config()["name"] == "bits_per_char"


def test_window_dataset_shifts_targets_by_one_and_rejects_short_texts():
    ids = np.arange(1, 24, dtype=np.int32)
    batches = list(window_dataset(ids, seq_len=5, batch_size=2, shuffle=True, seed=0))
    assert len(batches) == 2  # 4 windows of 5 (+1 target), batches of 2
    for x, y in batches:
        np.testing.assert_array_equal(np.asarray(y), np.asarray(x) + 1)
        assert np.asarray(x)[:, 0].tolist() and all(v % 5 == 1 for v in np.asarray(x)[:, 0])
    with pytest.raises(ValueError, match="shorter than one window.*smaller seq_len"):
        window_dataset(ids[:5], seq_len=5, batch_size=2)


def test_split_keeps_last_tenth_for_validation():
    train, val = split_text("x" * 90 + "y" * 10)
    assert train == "x" * 90 and val == "y" * 10


@pytest.mark.parametrize("kwargs, match", [({"units": 0}, "units"), ({"layers": 0}, "layers"),
                                           ({"cell": "transformer"}, "cell"), ({"dropout": 1.0}, "dropout")])
def test_constructor_errors_name_the_argument(vocab, kwargs, match):
    with pytest.raises(ValueError, match=match):
        CharLanguageModel(vocab, **kwargs)


def test_read_text_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="text_path=.*no such file"):
        read_text(tmp_path / "missing.txt")
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(ValueError, match="empty"):
        read_text(empty)


def test_train_charlm_rejects_text_shorter_than_a_window(tmp_path):
    short = tmp_path / "short.txt"
    short.write_text("abcdefghij" * 3)
    with pytest.raises(ValueError, match="shorter than one window"):
        train_charlm(short, tmp_path / "run", epochs=1, units=4, layers=1, seq_len=50, verbose=0)


def test_tiny_lm_learns_a_repetitive_text(tmp_path):
    text = tmp_path / "abc.txt"
    text.write_text("abcdefgh\n" * 300)
    metrics = train_charlm(text, tmp_path / "run", epochs=6, units=32, layers=1, seq_len=18, batch_size=16,
                           embedding_dim=8, dropout=0.0, learning_rate=2e-2, verbose=0)
    assert metrics["val_nats_per_char"] < 0.05
    assert metrics["val_bits_per_char"] == pytest.approx(metrics["val_nats_per_char"] / math.log(2))
    from zoo.text.language_model import load_charlm

    model = load_charlm(tmp_path / "run")
    assert model.generate("cde", 27, temperature=0.5, seed=0) == ("abcdefgh\n" * 4)[2:32]


def test_resumed_training_sees_the_same_batches_and_ends_with_the_same_weights(tmp_path):
    """Two epochs in one go against one epoch, then a rerun to two: the rerun restores the resume point and
    trains epoch 2 on the batches of an uninterrupted run, so both end with the same weights."""
    from zoo.text.language_model import load_charlm

    text = tmp_path / "corpus.txt"
    text.write_text("".join(f"line {i}: the quick brown fox.\n" for i in range(120)))
    settings = dict(units=8, layers=1, seq_len=12, batch_size=8, embedding_dim=4, dropout=0.1, verbose=0)
    train_charlm(text, tmp_path / "whole", epochs=2, **settings)
    train_charlm(text, tmp_path / "resumed", epochs=1, **settings)
    metrics = train_charlm(text, tmp_path / "resumed", epochs=2, **settings)
    assert metrics["epochs_trained_now"] == [1]
    history = json.loads((tmp_path / "resumed" / "history.json").read_text())
    chars = sum(epoch["chars_per_s"] * epoch["seconds"] for epoch in history)
    assert metrics["chars_per_s"] == pytest.approx(chars / sum(epoch["seconds"] for epoch in history))
    assert metrics["last_epoch_chars_per_s"] == history[-1]["chars_per_s"]  # the run's figure is the first one
    whole, resumed = load_charlm(tmp_path / "whole"), load_charlm(tmp_path / "resumed")
    for a, b in zip(whole.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
