"""CharVocab (text <-> ids) and CharTokenizer (the same as a Keras layer)."""

import json
import time

import numpy as np
import pytest

from zoo.text.vocab import ASCII_WHITESPACE, DEFAULT_ALPHABET, UNK_CHAR, CharVocab, _lowercase_map


def naive_encode(vocab, text, max_length):
    """Character by character, the rules of the CharVocab docstring."""
    index = {c: i + 1 for i, c in enumerate(vocab.alphabet)}
    text = text.strip(ASCII_WHITESPACE)[:max_length]
    ids = []
    for c in text:
        if vocab.lowercase:
            c = c.lower()[0]
        ids.append(index.get(c, vocab.unk_id))
    return ids + [0] * (max_length - len(ids))


def random_texts(count, seed, max_chars=40):
    """Strings over ASCII, whitespace, every character lowercasing changes, accents, emoji, CJK."""
    rng = np.random.default_rng(seed)
    pool = (
        [chr(c) for c in range(32, 127)]
        + list(ASCII_WHITESPACE)
        + [chr(c) for c in _lowercase_map()]
        + list("éèàüöÄÖÜßçñøåœ")
        + ["😀", "🐦", "中", "文", "\u0301", "\xa0", "\u2028", "\u0130", "\u212a", "\u03a3", "\U0001e900", "\0"]
    )
    return ["".join(rng.choice(pool, size=rng.integers(0, max_chars))) for _ in range(count)]


class TestAlphabet:
    def test_default_alphabet_is_the_papers_deduplicated(self):
        # Reed et al. print 70 characters with '-' twice: 68 distinct symbols + space.
        assert len(DEFAULT_ALPHABET) == 69
        assert len(set(DEFAULT_ALPHABET)) == 69
        assert DEFAULT_ALPHABET.count("-") == 1
        assert DEFAULT_ALPHABET.startswith("abcdefghijklmnopqrstuvwxyz0123456789-,;.!?:'\"/\\|_@#$%^&*~`+=<>()[]{}")
        assert DEFAULT_ALPHABET.endswith(" ")

    def test_ids(self):
        vocab = CharVocab()
        assert (vocab.pad_id, vocab.unk_id, vocab.size, len(vocab)) == (0, 70, 71, 71)
        assert vocab.lowercase is True

    def test_duplicates_dropped_keeping_first(self):
        assert CharVocab("abca", lowercase=False).alphabet == "abc"

    @pytest.mark.parametrize(
        "kwargs, error, words",
        [
            ({"alphabet": ""}, ValueError, "empty"),
            ({"alphabet": 5}, TypeError, "alphabet"),
            ({"alphabet": "abC"}, ValueError, "lowercase=False"),
            ({"lowercase": "yes"}, TypeError, "lowercase"),
        ],
    )
    def test_bad_arguments(self, kwargs, error, words):
        with pytest.raises(error, match=words):
            CharVocab(**kwargs)

    def test_from_text_keeps_case_and_sorts(self):
        vocab = CharVocab.from_text(["Hello", "world!"])
        assert vocab.alphabet == "!Hdelorw"
        assert vocab.lowercase is False
        assert vocab.decode(vocab.encode("Hello world!", 12)[0]) == "Hello" + UNK_CHAR + "world!"
        assert CharVocab.from_text("AbA", lowercase=True).alphabet == "ab"
        with pytest.raises(ValueError, match="no characters"):
            CharVocab.from_text("")


class TestEncode:
    def test_known_ids(self):
        vocab = CharVocab()
        ids = vocab.encode("Ab z09 -", max_length=10)
        assert ids.dtype == np.int32 and ids.shape == (1, 10)
        space, dash = DEFAULT_ALPHABET.index(" ") + 1, DEFAULT_ALPHABET.index("-") + 1
        np.testing.assert_array_equal(ids[0], [1, 2, space, 26, 27, 36, space, dash, 0, 0])

    def test_truncates_and_pads(self):
        ids = CharVocab().encode(["abcdef", "ab"], max_length=4)
        np.testing.assert_array_equal(ids, [[1, 2, 3, 4], [1, 2, 0, 0]])

    def test_default_max_length_is_201(self):
        assert CharVocab().encode(["a cat"]).shape == (1, 201)

    def test_unknown_characters(self):
        vocab = CharVocab()
        ids = vocab.encode(["é😀中\xa0\u0301"], max_length=5)[0]
        np.testing.assert_array_equal(ids, [vocab.unk_id] * 5)

    def test_simple_lowercase_of_non_ascii(self):
        # U+0130 (I with dot) and U+212A (Kelvin sign) lowercase to the ASCII 'i' and 'k'.
        vocab = CharVocab()
        np.testing.assert_array_equal(vocab.encode("\u0130\u212a", 2)[0], [9, 11])
        upper_case = CharVocab("äσ", lowercase=True)
        np.testing.assert_array_equal(upper_case.encode("ÄΣäσ", 4)[0], [1, 2, 1, 2])

    def test_case_kept_without_lowercase(self):
        vocab = CharVocab("abAB", lowercase=False)
        np.testing.assert_array_equal(vocab.encode("aAbB", 4)[0], [1, 3, 2, 4])

    @pytest.mark.parametrize("text", ["", " ", "   \t\n", "\r\n\v\f"])
    def test_empty_and_whitespace_are_all_padding(self, text):
        np.testing.assert_array_equal(CharVocab().encode([text], 7), np.zeros((1, 7), np.int32))

    def test_strip_keeps_inner_spaces(self):
        vocab = CharVocab()
        assert vocab.decode(vocab.encode("  a  b  ", 10)[0]) == "a  b"

    def test_matches_character_by_character_rules(self):
        for vocab in (CharVocab(), CharVocab.from_text("AaBbΣσςÄä中 ", lowercase=False)):
            texts = random_texts(300, seed=1)
            expected = np.array([naive_encode(vocab, t, 25) for t in texts], np.int32)
            np.testing.assert_array_equal(vocab.encode(texts, 25), expected)

    def test_code_point_table_agrees_with_encode(self):
        vocab = CharVocab()
        table = vocab.code_point_table()
        for text in random_texts(200, seed=2, max_chars=1):
            text = text.strip(ASCII_WHITESPACE)
            if text:
                expected = table[ord(text)] if ord(text) < len(table) else vocab.unk_id
                assert vocab.encode(text, 1)[0, 0] == expected, repr(text)

    @pytest.mark.parametrize("bad", [None, 3, b"bytes", ["ok", None], [1.5], {"a": 1}])
    def test_non_strings_raise_type_error_naming_the_type(self, bad):
        culprit = bad[-1] if isinstance(bad, list) else bad
        with pytest.raises(TypeError, match=type(culprit).__name__):
            CharVocab().encode(bad)

    @pytest.mark.parametrize("max_length", [0, -1, 2.5, True])
    def test_bad_max_length(self, max_length):
        with pytest.raises(ValueError, match="max_length"):
            CharVocab().encode("a", max_length=max_length)

    def test_lookup_keeps_shape_and_lengths_count_characters(self):
        vocab = CharVocab()
        points = np.array([[ord("A"), ord("b")], [ord("é"), ord(" ")]])
        np.testing.assert_array_equal(vocab.lookup(points), [[1, 2], [vocab.unk_id, 69]])
        assert vocab.lookup(np.zeros((0,), np.int64)).shape == (0,)
        np.testing.assert_array_equal(vocab.lengths(vocab.encode(["abc", "", " x "], 6)), [3, 0, 1])

    def test_numpy_array_of_str(self):
        vocab = CharVocab()
        np.testing.assert_array_equal(vocab.encode(np.array(["ab", "c"])), vocab.encode(["ab", "c"]))

    def test_long_caption_is_truncated_quickly(self):
        vocab = CharVocab()
        caption = ("A very long bird caption, " * 4000)[: 10**5]
        assert len(caption) == 10**5
        vocab.encode("warm up")
        start = time.perf_counter()
        ids = vocab.encode([caption] * 32)
        elapsed = time.perf_counter() - start
        assert ids.shape == (32, 201)
        assert vocab.decode(ids[0]) == caption[:201].lower()
        assert elapsed < 0.5, f"encoding 32 captions of 10^5 characters took {elapsed:.3f} s"


class TestDecodeAndOneHot:
    def test_round_trip_drops_padding(self):
        vocab = CharVocab()
        texts = ["a red bird.", "", "x"]
        assert vocab.decode(vocab.encode(texts, 20)) == texts

    def test_unknown_decodes_to_replacement_character(self):
        vocab = CharVocab()
        assert vocab.decode(vocab.encode("né", 5)[0]) == "n" + UNK_CHAR

    def test_1d_gives_str_and_rank_3_gives_nested_lists(self):
        vocab = CharVocab()
        assert vocab.decode([1, 2, 0]) == "ab"
        assert vocab.decode(np.ones((2, 3, 2), np.int32)) == [["aa"] * 3] * 2

    def test_out_of_range_ids(self):
        with pytest.raises(ValueError, match=r"\[0, 71\)"):
            CharVocab().decode([71])
        with pytest.raises(TypeError, match="integer"):
            CharVocab().decode([0.5])

    def test_one_hot(self):
        vocab = CharVocab()
        ids = vocab.encode(["ab", "z"], 3)
        hot = vocab.one_hot(ids)
        assert hot.dtype == np.float32 and hot.shape == (2, 3, 71)
        np.testing.assert_array_equal(hot.argmax(-1), ids)
        np.testing.assert_array_equal(hot.sum(-1), np.ones((2, 3)))


class TestSerialisation:
    def test_json_round_trip(self):
        for vocab in (CharVocab(), CharVocab.from_text("Héllo 😀", lowercase=False)):
            text = vocab.to_json()
            text.encode("ascii")
            assert json.loads(text) == vocab.get_config()
            again = CharVocab.from_json(text)
            assert again == vocab and hash(again) == hash(vocab)
            assert again.fingerprint() == vocab.fingerprint()

    def test_config_round_trip_and_coerce(self):
        vocab = CharVocab("xyz", lowercase=False)
        assert CharVocab.from_config(vocab.get_config()) == vocab
        assert CharVocab.coerce(vocab.get_config()) == vocab
        assert CharVocab.coerce(vocab.to_json()) == vocab
        with pytest.raises(TypeError, match="CharVocab"):
            CharVocab.coerce(3)
        with pytest.raises(ValueError, match="unknown CharVocab config keys"):
            CharVocab.from_config({"alphabet": "a", "lowercase": True, "size": 3})

    def test_fingerprint_is_stable_and_distinguishes(self):
        vocab = CharVocab()
        assert vocab.fingerprint() == CharVocab().fingerprint()
        assert len(vocab.fingerprint()) == 12
        assert vocab.fingerprint() != CharVocab(lowercase=False).fingerprint()
        assert vocab.fingerprint() != CharVocab(DEFAULT_ALPHABET[::-1]).fingerprint()
        assert vocab != CharVocab(lowercase=False)


# --- CharTokenizer -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tf():
    import tensorflow

    return tensorflow


class TestCharTokenizer:
    @pytest.mark.parametrize("vocab", [CharVocab(), CharVocab.from_text("AaBbΣσςÄä中 ", lowercase=False),
                                       CharVocab("äσi k", lowercase=True)])
    def test_equals_vocab_encode_on_random_unicode(self, tf, vocab):
        from zoo.text.tokenizer import CharTokenizer

        texts = random_texts(400, seed=3) + ["", "   ", "x" * 100, "é" * 60 + "abc"]
        tokenizer = CharTokenizer(vocab, max_length=30)
        ids = tokenizer(tf.constant(texts))
        assert ids.dtype == tf.int32
        np.testing.assert_array_equal(ids.numpy(), vocab.encode(texts, 30))

    def test_long_caption_and_shapes(self, tf):
        from zoo.text.tokenizer import CharTokenizer

        vocab = CharVocab()
        tokenizer = CharTokenizer(vocab, max_length=201)
        caption = "Ünïcode bird " * 8000
        np.testing.assert_array_equal(tokenizer(tf.constant(caption)).numpy(), vocab.encode(caption)[0])
        assert tuple(tokenizer(tf.constant([["a"], ["b"]])).shape) == (2, 201)
        with pytest.raises(TypeError, match="tf.string"):
            tokenizer(tf.constant([1.0]))

    def test_in_tf_data_map(self, tf):
        from zoo.text.tokenizer import CharTokenizer

        vocab = CharVocab()
        texts = random_texts(50, seed=4)
        tokenizer = CharTokenizer(vocab.to_json(), max_length=16)
        dataset = tf.data.Dataset.from_tensor_slices(texts).batch(8).map(tokenizer)
        np.testing.assert_array_equal(np.concatenate(list(dataset.as_numpy_iterator())), vocab.encode(texts, 16))
        single = tf.data.Dataset.from_tensor_slices(texts[:5]).map(tokenizer).batch(5)
        np.testing.assert_array_equal(next(iter(single)).numpy(), vocab.encode(texts[:5], 16))

    def test_saved_model_round_trip_with_safe_mode(self, tf, tmp_path):
        import keras

        from zoo.text.tokenizer import CharTokenizer

        vocab = CharVocab()
        inputs = keras.Input(shape=(1,), dtype="string")
        ids = CharTokenizer(vocab, max_length=24, name="tokenizer")(inputs)
        model = keras.Model(inputs, ids)
        path = tmp_path / "tokenizer.keras"
        model.save(path)
        loaded = keras.saving.load_model(path, safe_mode=True)
        texts = random_texts(40, seed=5)
        batch = tf.constant([[t] for t in texts])
        np.testing.assert_array_equal(loaded(batch).numpy(), vocab.encode(texts, 24))
        layer = loaded.get_layer("tokenizer")
        assert layer.vocab == vocab and layer.max_length == 24

    def test_bad_arguments(self):
        from zoo.text.tokenizer import CharTokenizer

        with pytest.raises(ValueError, match="max_length"):
            CharTokenizer(CharVocab(), max_length=0)
        with pytest.raises(TypeError, match="vocab"):
            CharTokenizer(42)
