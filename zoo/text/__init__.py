"""Character-level text models: vocabulary and tokenizer, char-RNN, char-CNN and char-CNN-RNN encoders, the DS-SJE
joint embedding, a character language model and a character encoder-decoder.

Names are imported lazily, so ``import zoo.text`` does not start TensorFlow.
"""

from zoo.lazy import lazy_exports as _lazy_exports

_EXPORTS = {
    "DEFAULT_ALPHABET": "zoo.text.vocab",
    "CharVocab": "zoo.text.vocab",
    "CharTokenizer": "zoo.text.tokenizer",
    "CharRNNEncoder": "zoo.text.encoders",
    "CharCNNEncoder": "zoo.text.encoders",
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

__getattr__, __dir__ = _lazy_exports(__name__, _EXPORTS)
