"""CharRNNEncoder, CharCNNEncoder and CharCNNRNN: masking, Reed et al.'s sizes, saving, vocabulary checks."""

import keras
import numpy as np
import pytest

import zoo
from zoo.text.encoders import CharCNNEncoder, CharCNNRNN, CharRNNEncoder, load_encoder
from zoo.text.vocab import CharVocab

VOCAB = CharVocab()
TEXTS = ["a small red bird.", "this bird has a long beak", "x", ""]


def small_rnn(**kwargs):
    kwargs = {"embedding_dim": 6, "units": 5, "output_dim": 3, **kwargs}
    return CharRNNEncoder(VOCAB, **kwargs)


def small_cnn(**kwargs):
    kwargs = {"output_dim": 3, "filters": (8, 8), "kernel_size": 3, "pool_sizes": (2, 2), "pool_strides": (2, 2),
              "units": 4, **kwargs}
    return CharCNNRNN(VOCAB, **kwargs)


RNN_VARIANTS = {
    "lstm-mean": lambda: small_rnn(cell="lstm"),
    "bigru-mean": lambda: small_rnn(cell="gru", bidirectional=True),
    "bigru-last": lambda: small_rnn(cell="gru", pooling="last", bidirectional=True),
    "gru-last": lambda: small_rnn(cell="gru", pooling="last"),
    "elman-mean": lambda: small_rnn(cell="elman"),
    "cell-instance": lambda: small_rnn(cell=zoo.LSTMCell(5), units=None),
}


class TestCharRNNEncoder:
    @pytest.mark.parametrize("variant", sorted(RNN_VARIANTS))
    def test_appending_padding_changes_nothing(self, variant):
        encoder = RNN_VARIANTS[variant]()
        ids = VOCAB.encode(TEXTS, max_length=30)
        out = encoder(ids).numpy()
        padded = encoder(np.pad(ids, ((0, 0), (0, 17)))).numpy()
        assert out.shape == (4, 3)
        np.testing.assert_allclose(padded, out, atol=1e-6)

    @pytest.mark.parametrize("pooling", ["mean", "last"])
    def test_equals_the_unpadded_sequence_run_alone(self, pooling):
        encoder = small_rnn(cell="gru", pooling=pooling)
        ids = VOCAB.encode(TEXTS[:3], max_length=30)
        out = encoder(ids).numpy()
        rnn = keras.layers.RNN(encoder.rnn.cell, return_sequences=True)
        for row, text in zip(out, TEXTS[:3]):
            exact = VOCAB.encode(text, max_length=len(text))
            states = rnn(encoder.embedding(exact)).numpy()[0]
            pooled = states.mean(0) if pooling == "mean" else states[-1]
            expected = pooled @ encoder.projection.kernel.numpy() + encoder.projection.bias.numpy()
            np.testing.assert_allclose(row, expected, atol=1e-5)

    def test_all_padding_gives_the_bias(self):
        encoder = small_rnn()
        encoder.build((None, 10))
        encoder.projection.bias.assign(np.arange(3, dtype=np.float32))
        out = encoder(VOCAB.encode(["", "   "], max_length=10)).numpy()
        np.testing.assert_allclose(out, [[0, 1, 2]] * 2, atol=1e-6)

    def test_learns_through_fit(self):
        keras.utils.set_random_seed(0)
        texts = [f"{word} {i}" for i in range(32) for word in ("cat", "dog")]
        labels = np.array([0, 1] * 32)
        encoder = small_rnn(cell="lstm", output_dim=2)
        encoder.compile(optimizer=keras.optimizers.Adam(0.05),
                        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
        history = encoder.fit(VOCAB.encode(texts, 8), labels, epochs=8, batch_size=32, verbose=0)
        assert history.history["accuracy"][-1] == 1.0

    @pytest.mark.parametrize(
        "kwargs, words",
        [
            ({"cell": "transformer"}, "`cell`"),
            ({"pooling": "max"}, "`pooling`"),
            ({"output_dim": 0}, "`output_dim`"),
            ({"embedding_dim": -2}, "`embedding_dim`"),
            ({"units": 0}, "`units`"),
            ({"cell": zoo.GRUCell(4), "units": 5}, "units=None"),
        ],
    )
    def test_bad_arguments(self, kwargs, words):
        with pytest.raises(ValueError, match=words):
            small_rnn(**kwargs)


class TestCharCNNRNN:
    def test_paper_sizes(self):
        encoder = CharCNNRNN(VOCAB)
        # 201 -> conv4 198 -> pool3/3 66 -> conv4 63 -> pool3/3 21 -> conv4 18 -> pool3/2 8.
        assert encoder.output_steps(201) == 8
        assert encoder.channels == 70
        out = encoder(VOCAB.encode(["a small bird with a red head"]))
        assert out.shape == (1, 1024)
        conv = (4 * 70 * 384 + 384) + (4 * 384 * 512 + 512) + (4 * 512 * 256 + 256)
        recurrent = 256 * 256 + 256 * 256 + 256  # ReLU Elman: U, W, b
        dense = 256 * 1024 + 1024
        assert encoder.count_params() == conv + recurrent + dense == 1_813_888
        assert isinstance(encoder.rnn, zoo.ElmanRNN) and encoder.rnn.cell.activation.__name__ == "relu"

    def test_gru_and_lstm_param_counts(self):
        assert CharCNNRNN(VOCAB, cell="lstm").rnn.cell.units == 256
        lstm = CharCNNRNN(VOCAB, cell="lstm", output_dim=8)
        lstm.build((None, 201))
        assert lstm.rnn.count_params() == 4 * (256 * 256 + 256 * 256 + 256)

    def test_one_hot_leaves_padding_at_zero(self):
        encoder = small_cnn()
        ids = VOCAB.encode(["ab"], max_length=20)
        x = keras.ops.one_hot(ids, VOCAB.size)[..., 1:].numpy()
        assert x.shape == (1, 20, 70)
        np.testing.assert_array_equal(x[0, :2].argmax(-1), [0, 1])
        np.testing.assert_array_equal(x[0, 2:], 0)
        assert encoder(ids).shape == (1, 3)

    def test_too_short_texts_are_refused(self):
        encoder = small_cnn()
        shortest = 10  # 10 -> conv3 8 -> pool2/2 4 -> conv3 2 -> pool2/2 1; 9 -> 7 -> 3 -> 1 -> 0
        assert encoder.output_steps(shortest) == 1 and encoder.output_steps(shortest - 1) == 0
        with pytest.raises(ValueError, match="at least 10 characters"):
            encoder(VOCAB.encode(["ab"], max_length=9))

    def test_stage_lengths_must_agree(self):
        with pytest.raises(ValueError, match="one entry per convolution stage"):
            CharCNNRNN(VOCAB, filters=(4, 4), pool_sizes=(2,), pool_strides=(2,))
        with pytest.raises(ValueError, match=r"filters\[1\]"):
            CharCNNRNN(VOCAB, filters=(4, 0, 4))


class TestCharCNNEncoder:
    def test_appending_padding_changes_nothing(self):
        encoder = CharCNNEncoder(VOCAB, filters=(8, 6), output_dim=3)
        ids = VOCAB.encode(TEXTS, max_length=30)
        np.testing.assert_allclose(encoder(np.pad(ids, ((0, 0), (0, 17)))).numpy(), encoder(ids).numpy(), atol=1e-6)

    def test_equals_numpy_convolutions_and_max_over_the_characters(self):
        encoder = CharCNNEncoder(VOCAB, embedding_dim=4, filters=(5, 6), kernel_size=3, output_dim=2)
        ids = VOCAB.encode(["red triangle", "a"], max_length=16)
        out = encoder(ids).numpy()
        table = encoder.embedding.embeddings.numpy()
        for row, text in zip(out, ["red triangle", "a"]):
            x = table[VOCAB.encode(text, max_length=len(text))[0]]
            for conv in encoder.convolutions:
                kernel, bias = conv.kernel.numpy(), conv.bias.numpy()  # [3, in, out]
                padded = np.pad(x, ((1, 1), (0, 0)))
                x = np.maximum(np.stack([np.einsum("ki,kio->o", padded[t:t + 3], kernel) for t in range(len(x))])
                               + bias, 0.0)
            expected = x.max(0) @ encoder.projection.kernel.numpy() + encoder.projection.bias.numpy()
            np.testing.assert_allclose(row, expected, atol=1e-5)

    def test_all_padding_gives_the_bias(self):
        encoder = CharCNNEncoder(VOCAB, filters=(8,), output_dim=3)
        encoder.build((None, 12))
        encoder.projection.bias.assign(np.arange(3, dtype=np.float32))
        np.testing.assert_allclose(encoder(VOCAB.encode(["", ""], max_length=12)).numpy(), [[0, 1, 2]] * 2, atol=1e-6)

    def test_bad_arguments(self):
        with pytest.raises(ValueError, match="filters"):
            CharCNNEncoder(VOCAB, filters=())
        with pytest.raises(ValueError, match="kernel_size"):
            CharCNNEncoder(VOCAB, kernel_size=0)


SAVED = {
    "rnn-lstm": lambda: small_rnn(cell="lstm"),
    "rnn-bigru": lambda: small_rnn(cell="gru", bidirectional=True),
    "char-cnn": lambda: CharCNNEncoder(VOCAB, filters=(8, 8), output_dim=3),
    "rnn-cell-instance": lambda: small_rnn(cell=zoo.ElmanCell(5, activation="relu"), units=None, pooling="last"),
    "cnn-elman": lambda: small_cnn(),
    "cnn-gru-custom-vocab": lambda: CharCNNRNN(CharVocab.from_text("AbC é"), output_dim=3, filters=(4, 4),
                                               kernel_size=2, pool_sizes=(2, 2), pool_strides=(2, 2), cell="gru",
                                               units=3),
}


class TestSaving:
    @pytest.mark.parametrize("variant", sorted(SAVED))
    def test_keras_round_trip_with_safe_mode(self, variant, tmp_path):
        encoder = SAVED[variant]()
        ids = encoder.vocab.encode(TEXTS, max_length=24)
        expected = encoder(ids).numpy()
        path = tmp_path / "encoder.keras"
        encoder.save(path)
        loaded = keras.saving.load_model(path, safe_mode=True)
        assert type(loaded) is type(encoder)
        assert loaded.vocab == encoder.vocab
        assert loaded.get_config() == encoder.get_config()
        np.testing.assert_array_equal(loaded(ids).numpy(), expected)

    def test_load_encoder_refuses_another_vocabulary(self, tmp_path):
        encoder = small_rnn()
        encoder(VOCAB.encode(TEXTS, 10))
        path = tmp_path / "encoder.keras"
        encoder.save(path)
        assert load_encoder(path, vocab=CharVocab()).vocab == VOCAB
        assert load_encoder(path, vocab=VOCAB.to_json()).vocab == VOCAB
        other = CharVocab(lowercase=False)
        with pytest.raises(ValueError, match=f"{VOCAB.fingerprint()}.*{other.fingerprint()}"):
            load_encoder(path, vocab=other)

    def test_load_encoder_refuses_other_models(self, tmp_path):
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        path = tmp_path / "dense.keras"
        model.save(path)
        with pytest.raises(TypeError, match="not a character encoder"):
            load_encoder(path)

    def test_string_model_with_tokenizer_round_trip(self, tmp_path):
        import tensorflow as tf

        encoder = small_rnn(cell="gru")
        inputs = keras.Input(shape=(1,), dtype="string")
        model = keras.Model(inputs, encoder(encoder.tokenizer(max_length=32)(inputs)))
        strings = tf.constant([[t] for t in TEXTS])
        expected = model(strings).numpy()
        np.testing.assert_allclose(expected, encoder.encode_texts(TEXTS, max_length=32), atol=1e-6)
        path = tmp_path / "strings.keras"
        model.save(path)
        loaded = keras.saving.load_model(path, safe_mode=True)
        np.testing.assert_array_equal(loaded(strings).numpy(), expected)
