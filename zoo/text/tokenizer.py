"""``CharTokenizer``: :meth:`CharVocab.encode` as a Keras layer over ``tf.string`` tensors.

It runs inside ``tf.data`` maps and inside saved ``.keras`` models (it is rebuilt from its config; no
weights). Its output equals ``vocab.encode(texts, max_length)`` exactly:

1. ``tf.strings.strip`` removes leading/trailing ASCII whitespace (the rule ``CharVocab`` follows);
2. ``tf.strings.unicode_decode`` gives code points (invalid UTF-8 -> U+FFFD -> unknown); only the first
   ``4 * max_length`` bytes are decoded, which hold the first ``max_length`` characters, so a very long
   caption costs no more than a short one;
3. a dense table ``code point -> id`` (:meth:`CharVocab.code_point_table`) does lowercasing and lookup
   in one gather. ``tf.strings.lower`` is *not* used: it applies ICU's full, context-dependent case
   mapping ("İ" -> two code points, final sigma), which is not one character to one id.
"""

import keras

from zoo.text.vocab import DEFAULT_MAX_LENGTH, CharVocab, _check_max_length


@keras.saving.register_keras_serializable(package="kzoo")
class CharTokenizer(keras.layers.Layer):
    """Map strings to int32 character ids ``[..., max_length]`` (0 = padding).

    Args:
        vocab: a :class:`CharVocab`, its ``get_config()`` dict or its JSON string.
        max_length: characters kept per text (longer texts are truncated, shorter ones padded).

    Input: a string tensor of shape ``[]``, ``[batch]`` or ``[batch, 1]``; output: ``[max_length]``,
    ``[batch, max_length]`` or ``[batch, max_length]`` respectively. TensorFlow backend only.
    """

    def __init__(self, vocab=None, max_length=DEFAULT_MAX_LENGTH, **kwargs):
        kwargs.setdefault("trainable", False)
        kwargs.setdefault("dtype", "int32")
        super().__init__(**kwargs)
        self.vocab = CharVocab() if vocab is None else CharVocab.coerce(vocab)
        self.max_length = _check_max_length(max_length)
        self._table = self.vocab.code_point_table()
        # Strings must reach call() as they are (not converted to the layer's dtype).
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.built = True

    def call(self, inputs):
        import tensorflow as tf

        if keras.backend.backend() != "tensorflow":
            raise RuntimeError(
                f"CharTokenizer needs the TensorFlow backend (tf.strings); the backend is {keras.backend.backend()}."
            )
        texts = tf.convert_to_tensor(inputs)
        if texts.dtype != tf.string:
            raise TypeError(f"CharTokenizer expects a tf.string tensor; received dtype {texts.dtype.name}.")
        rank = texts.shape.rank
        if rank == 2 and texts.shape[-1] == 1:
            texts = tf.squeeze(texts, axis=-1)
        elif rank not in (0, 1):
            raise ValueError(
                f"CharTokenizer expects strings of shape [], [batch] or [batch, 1]; received shape {texts.shape}."
            )
        single = texts.shape.rank == 0
        texts = tf.reshape(texts, [-1])
        texts = tf.strings.substr(tf.strings.strip(texts), 0, 4 * self.max_length, unit="BYTE")
        points = tf.strings.unicode_decode(texts, "UTF-8", errors="replace", replacement_char=0xFFFD)
        points = points[:, : self.max_length]
        table = tf.constant(self._table, dtype=tf.int32)
        last = len(self._table) - 1
        ids = points.with_flat_values(
            tf.where(
                points.flat_values > last,
                tf.constant(self.vocab.unk_id, tf.int32),
                tf.gather(table, tf.minimum(points.flat_values, last)),
            )
        )
        ids = ids.to_tensor(default_value=self.vocab.pad_id, shape=[None, self.max_length])
        return ids[0] if single else ids

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) == 0:
            return (self.max_length,)
        return (input_shape[0], self.max_length)

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(self.compute_output_shape(inputs.shape), dtype="int32")

    def get_config(self):
        return {**super().get_config(), "vocab": self.vocab.get_config(), "max_length": self.max_length}
