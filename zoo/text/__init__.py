"""Character-level text models: vocabulary and tokenizer, char-RNN and char-CNN-RNN encoders, the DS-SJE
joint embedding, a character language model and a character encoder-decoder.

Names are imported lazily, so ``import zoo.text`` does not start TensorFlow.
"""

import importlib

_EXPORTS = {
    "DEFAULT_ALPHABET": "zoo.text.vocab",
    "CharVocab": "zoo.text.vocab",
    "CharTokenizer": "zoo.text.tokenizer",
    "CharRNNEncoder": "zoo.text.encoders",
    "CharCNNRNN": "zoo.text.encoders",
    "load_encoder": "zoo.text.encoders",
    "JointEmbedding": "zoo.text.joint_embedding",
    "class_batches": "zoo.text.joint_embedding",
    "zero_shot_accuracy": "zoo.text.joint_embedding",
    "train_captioned_mnist": "zoo.text.captions",
    "CharLanguageModel": "zoo.text.language_model",
    "CharSeq2Seq": "zoo.text.seq2seq",
}

__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'zoo.text' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
