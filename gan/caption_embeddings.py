"""``CaptionEmbeddings``: the frozen text encoder's ψ(t) of every caption a training stream can serve, computed once.

With a frozen encoder (Reed et al.'s stage 2) ψ(t) of a caption never changes, and the captioned datasets draw from
a finite set of captions (a shapes combination's phrasings, a class's templates, Reed's ten lines per flower image).
Encoding that set once and looking the rows up in the ``tf.data`` pipeline replaces the char-RNN pass of every
training step (on the quickstart, 96 recurrent steps over 64 captions: a sixth of the step's time, 141 against 119
ms measured interleaved) by a gather. The rows are the encoder's outputs in inference mode, as in the step they
replace.
"""

from __future__ import annotations

import numpy as np

# Above this size the rows would cost more memory than the encoder's pass costs time; stay with the pass.
MAX_BYTES = 256 * 2 ** 20


class CaptionEmbeddings:
    """ψ(t) for a fixed set of captions; calling it maps a string tensor [B] to float32 [B, D] (in ``tf.data`` too).

    Args:
        encoder: the (frozen) character encoder, e.g. ``zoo.text.CharRNNEncoder``.
        captions: every caption that will be looked up (duplicates are fine).
        max_length: the characters each caption is cut or padded to, as the step's tokenizer does.
        batch_size: captions per encoder call while filling the table.
    """

    def __init__(self, encoder, captions, max_length: int, batch_size: int = 256):
        import tensorflow as tf

        from zoo.text import CharTokenizer

        self.captions = sorted(set(captions))
        if not self.captions:
            raise ValueError("CaptionEmbeddings needs at least one caption")
        tokenizer = CharTokenizer(encoder.vocab, max_length=max_length)
        encode = tf.function(lambda texts: encoder(tokenizer(texts), training=False))
        batch_size = min(batch_size, len(self.captions))
        padded = self.captions + [""] * (-len(self.captions) % batch_size)  # one batch shape: one trace
        rows = [encode(tf.constant(padded[start:start + batch_size])).numpy()
                for start in range(0, len(padded), batch_size)]
        self.matrix = tf.constant(np.concatenate(rows)[:len(self.captions)].astype(np.float32))
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(self.captions), tf.range(len(self.captions),
                                                                                     dtype=tf.int64)),
            default_value=-1)

    @staticmethod
    def fits(count: int, dim: int, max_bytes: int = MAX_BYTES) -> bool:
        """Whether ``count`` rows of ``dim`` float32 stay within ``max_bytes``."""
        return count * dim * 4 <= max_bytes

    def __len__(self):
        return len(self.captions)

    def __call__(self, captions):
        import tensorflow as tf

        rows = self.table.lookup(captions)
        check = tf.debugging.assert_non_negative(
            rows, message="a caption outside the set CaptionEmbeddings was built from; build it from every caption "
                          "the dataset can serve")
        with tf.control_dependencies([check]):
            return tf.gather(self.matrix, rows)
