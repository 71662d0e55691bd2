"""Character vocabulary: text <-> int32 ids, the alphabet of Reed et al. (2016).

Ids: ``0`` is padding, ``1 .. len(alphabet)`` are the alphabet's characters in order, and the last id
``len(alphabet) + 1`` is the unknown character. ``size = len(alphabet) + 2``.

Encoding a text (the same rules are implemented in TensorFlow by :class:`zoo.text.CharTokenizer`):

1. strip leading/trailing ASCII whitespace (`` \\t\\n\\v\\f\\r``), so "" and "   " encode to all padding;
2. keep the first ``max_length`` code points (truncation; the rest of a long caption is never touched);
3. if ``lowercase``, map each code point to its Unicode *simple* lowercase (one code point to one, as
   ICU's ``u_tolower`` and ``tf.strings.lower(..., encoding="utf-8")`` do: "Ä" -> "ä", "İ" -> "i");
4. look each code point up in the alphabet; anything else (accents, emoji, ...) is the unknown id;
5. pad with 0 to ``max_length``.

Reference: S. Reed, Z. Akata, H. Lee, B. Schiele, "Learning Deep Representations of Fine-Grained Visual
Descriptions", CVPR 2016 (after Zhang, Zhao & LeCun 2015, "Character-level Convolutional Networks for
Text Classification").
"""

from __future__ import annotations

import functools
import hashlib
import json
import numbers
import sys
from collections.abc import Sequence

import numpy as np

# The paper's alphabet, as printed, lists '-' twice; duplicates are dropped keeping the first, so it has
# 68 distinct symbols plus the space: 69 characters, ids 1..69, unknown = 70, size = 71. Its one-hot
# without the padding column (alphabet + unknown) is the paper's 70-dimensional input.
_PAPER_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789-,;.!?:'\"/\\|_@#$%^&*~`+-=<>()[]{} "
DEFAULT_ALPHABET = "".join(dict.fromkeys(_PAPER_ALPHABET))
DEFAULT_MAX_LENGTH = 201

# What tf.strings.strip removes (absl::StripAsciiWhitespace).
ASCII_WHITESPACE = " \t\n\v\f\r"

# decode() writes the unknown id as U+FFFD REPLACEMENT CHARACTER.
UNK_CHAR = "\ufffd"


def simple_lower(code_point: int) -> int:
    """The Unicode simple lowercase mapping of one code point (one code point to one)."""
    try:
        lowered = chr(code_point).lower()
    except ValueError:
        return code_point
    # Python applies the *full* mapping; the only code point whose full lowercase is longer than one
    # character is U+0130 (-> "i" + U+0307), and its simple mapping is the first of them.
    return ord(lowered[0])


@functools.lru_cache(maxsize=1)
def _lowercase_map() -> dict:
    """{code point: its simple lowercase} for every code point that lowercasing changes (~1400)."""
    return {
        u: simple_lower(u)
        for u in range(sys.maxunicode + 1)
        if not 0xD800 <= u < 0xE000 and simple_lower(u) != u
    }


def _code_points(text: str) -> np.ndarray:
    # surrogatepass: a lone surrogate (possible in a Python str) becomes its own code point -> unknown.
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4").astype(np.int64)


def _check_texts(texts, argument="texts"):
    """Return (list of str, was_single) or raise TypeError naming the offending type."""
    if isinstance(texts, str):
        return [texts], True
    if isinstance(texts, np.ndarray):
        texts = texts.tolist() if texts.ndim == 1 else texts
        if isinstance(texts, np.ndarray):
            raise ValueError(
                f"`{argument}` must be a str or a 1-D sequence of str; received an array of shape {texts.shape}."
            )
    if texts is None or isinstance(texts, (bytes, bytearray)) or not isinstance(texts, Sequence):
        raise TypeError(
            f"`{argument}` must be a str or a sequence of str; received {type(texts).__name__}"
            + (" (decode bytes to str first)" if isinstance(texts, (bytes, bytearray)) else "")
            + "."
        )
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(
                f"`{argument}[{i}]` must be a str; received {type(text).__name__} ({text!r:.60})."
            )
    return list(texts), False


def _check_max_length(max_length):
    if isinstance(max_length, bool) or not isinstance(max_length, numbers.Integral) or max_length <= 0:
        raise ValueError(
            f"`max_length` must be a positive integer (characters kept per text); received max_length={max_length!r}."
        )
    return int(max_length)


class CharVocab:
    """A character alphabet with a padding id (0) and an unknown id (the last).

    Args:
        alphabet: the characters, in id order (id ``i + 1`` is ``alphabet[i]``). Repeated characters are
            dropped, keeping the first. Default: :data:`DEFAULT_ALPHABET`, Reed et al.'s 69 distinct
            characters (68 symbols and the space).
        lowercase: lowercase texts before the lookup (see the module docstring).

    >>> vocab = CharVocab()
    >>> vocab.size, vocab.pad_id, vocab.unk_id
    (71, 0, 70)
    >>> vocab.decode(vocab.encode("A cat!", max_length=8)[0])
    'a cat!'
    """

    pad_id = 0

    def __init__(self, alphabet: str = DEFAULT_ALPHABET, lowercase: bool = True):
        if not isinstance(alphabet, str):
            raise TypeError(f"`alphabet` must be a str of characters; received {type(alphabet).__name__}.")
        if not isinstance(lowercase, bool):
            raise TypeError(f"`lowercase` must be True or False; received {lowercase!r}.")
        alphabet = "".join(dict.fromkeys(alphabet))
        if not alphabet:
            raise ValueError("`alphabet` must hold at least one character; received an empty string.")
        if lowercase:
            unreachable = [c for c in alphabet if simple_lower(ord(c)) != ord(c)]
            if unreachable:
                raise ValueError(
                    f"with lowercase=True the characters {''.join(unreachable)!r} of `alphabet` can never be "
                    f"looked up (texts are lowercased first); remove them or pass lowercase=False."
                )
        self.alphabet = alphabet
        self.lowercase = lowercase
        points = np.array([ord(c) for c in alphabet], dtype=np.int64)
        order = np.argsort(points)
        self._sorted_points = points[order]
        self._sorted_ids = (order + 1).astype(np.int32)
        self._chars = np.array(["", *alphabet, UNK_CHAR], dtype=object)

    # -- sizes -------------------------------------------------------------------------------------

    @property
    def unk_id(self) -> int:
        """The id of characters outside the alphabet: ``len(alphabet) + 1``."""
        return len(self.alphabet) + 1

    @property
    def size(self) -> int:
        """Number of ids, padding and unknown included: ``len(alphabet) + 2``."""
        return len(self.alphabet) + 2

    def __len__(self) -> int:
        return self.size

    # -- text -> ids -------------------------------------------------------------------------------

    def lookup(self, code_points) -> np.ndarray:
        """Ids of an int array of code points (lowercased first when ``lowercase``); shape kept."""
        code_points = np.asarray(code_points, dtype=np.int64)
        if code_points.size == 0:
            return np.zeros(code_points.shape, np.int32)
        if self.lowercase:
            unique, inverse = np.unique(code_points, return_inverse=True)
            lowered = np.array([simple_lower(int(c)) for c in unique], dtype=np.int64)
            code_points = lowered[inverse].reshape(code_points.shape)
        index = np.clip(np.searchsorted(self._sorted_points, code_points), 0, len(self._sorted_points) - 1)
        found = self._sorted_points[index] == code_points
        return np.where(found, self._sorted_ids[index], np.int32(self.unk_id)).astype(np.int32)

    def code_point_table(self) -> np.ndarray:
        """Dense int32 table ``table[code point] -> id`` covering every code point that is not unknown.

        With ``lowercase`` it also holds the code points that lowercase into the alphabet (for the default
        alphabet that includes "A".."Z", U+0130 and the Kelvin sign). Code points past its end are unknown.
        Used by :class:`zoo.text.CharTokenizer`.
        """
        keys = {ord(c): i + 1 for i, c in enumerate(self.alphabet)}
        if self.lowercase:
            keys.update((u, keys[low]) for u, low in _lowercase_map().items() if low in keys)
        table = np.full(max(keys) + 1, self.unk_id, dtype=np.int32)
        table[list(keys)] = list(keys.values())
        return table

    def encode(self, texts, max_length: int = DEFAULT_MAX_LENGTH) -> np.ndarray:
        """int32 ids of shape ``[batch, max_length]`` (a single str is a batch of one).

        Texts are stripped, truncated to ``max_length`` characters, lowercased, looked up and padded with
        0. Raises TypeError for None or anything that is not a str / sequence of str.
        """
        texts, _ = _check_texts(texts)
        max_length = _check_max_length(max_length)
        out = np.zeros((len(texts), max_length), dtype=np.int32)
        pieces = [_code_points(text.strip(ASCII_WHITESPACE)[:max_length]) for text in texts]
        lengths = np.array([len(p) for p in pieces], dtype=np.int64)
        if lengths.sum():
            ids = self.lookup(np.concatenate(pieces))
            rows = np.repeat(np.arange(len(texts)), lengths)
            cols = np.arange(len(ids)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
            out[rows, cols] = ids
        return out

    def lengths(self, ids) -> np.ndarray:
        """Number of non-padding ids along the last axis."""
        return np.count_nonzero(np.asarray(ids) != self.pad_id, axis=-1)

    # -- ids -> text -------------------------------------------------------------------------------

    def _check_ids(self, ids) -> np.ndarray:
        ids = np.asarray(ids)
        if ids.dtype == object or not (np.issubdtype(ids.dtype, np.integer) or ids.size == 0):
            raise TypeError(f"`ids` must be an integer array; received dtype {ids.dtype}.")
        ids = ids.astype(np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= self.size):
            raise ValueError(
                f"`ids` must lie in [0, {self.size}) for this vocabulary (size {self.size}); "
                f"received values in [{ids.min()}, {ids.max()}]."
            )
        return ids

    def decode(self, ids):
        """Strings from ids: padding dropped, unknown written as U+FFFD.

        A 1-D array gives one str; an array of rank ``r > 1`` gives nested lists of str (rank ``r - 1``).
        """
        ids = self._check_ids(ids)
        if ids.ndim == 0:
            raise ValueError("`ids` must have at least one axis (the characters); received a scalar.")
        if ids.ndim == 1:
            return "".join(self._chars[ids[ids != self.pad_id]])
        return [self.decode(row) for row in ids]

    def one_hot(self, ids) -> np.ndarray:
        """float32 one-hot vectors of shape ``ids.shape + (size,)`` (padding is the unit vector e_0)."""
        ids = self._check_ids(ids)
        return np.eye(self.size, dtype=np.float32)[ids]

    # -- serialisation -----------------------------------------------------------------------------

    def get_config(self) -> dict:
        return {"alphabet": self.alphabet, "lowercase": self.lowercase}

    @classmethod
    def from_config(cls, config: dict) -> CharVocab:
        if not isinstance(config, dict):
            raise TypeError(f"`config` must be a dict from CharVocab.get_config(); received {type(config).__name__}.")
        unknown = set(config) - {"alphabet", "lowercase"}
        if unknown:
            raise ValueError(f"unknown CharVocab config keys {sorted(unknown)}; expected 'alphabet' and 'lowercase'.")
        return cls(**config)

    def to_json(self) -> str:
        """A JSON string (ASCII-only) that :meth:`from_json` reads back."""
        return json.dumps(self.get_config(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> CharVocab:
        if not isinstance(text, (str, bytes, bytearray)):
            raise TypeError(f"`text` must be the JSON string from CharVocab.to_json(); received {type(text).__name__}.")
        return cls.from_config(json.loads(text))

    def fingerprint(self) -> str:
        """A short stable hash of the config (12 hex digits), used to refuse a mismatched vocabulary."""
        return hashlib.sha256(self.to_json().encode("ascii")).hexdigest()[:12]

    @classmethod
    def coerce(cls, vocab, argument="vocab") -> CharVocab:
        """A CharVocab from a CharVocab, its config dict, or its JSON string."""
        if isinstance(vocab, CharVocab):
            return vocab
        if isinstance(vocab, dict):
            return cls.from_config(vocab)
        if isinstance(vocab, str):
            return cls.from_json(vocab)
        raise TypeError(
            f"`{argument}` must be a CharVocab, its get_config() dict or its to_json() string; "
            f"received {type(vocab).__name__}."
        )

    @classmethod
    def from_text(cls, text, lowercase: bool = False) -> CharVocab:
        """A vocabulary of every distinct character of a corpus (a str or a sequence of str), sorted.

        With ``lowercase=True`` the corpus is lowercased first (code point by code point).
        """
        texts, _ = _check_texts(text, argument="text")
        chars = set().union(*texts) if texts else set()
        if lowercase:
            chars = {chr(simple_lower(ord(c))) for c in chars}
        if not chars:
            raise ValueError("`text` has no characters to build an alphabet from.")
        return cls("".join(sorted(chars)), lowercase=lowercase)

    # -- comparisons -------------------------------------------------------------------------------

    def __eq__(self, other) -> bool:
        if not isinstance(other, CharVocab):
            return NotImplemented
        return self.get_config() == other.get_config()

    def __hash__(self) -> int:
        return hash((self.alphabet, self.lowercase))

    def __repr__(self) -> str:
        return f"CharVocab(size={self.size}, lowercase={self.lowercase}, fingerprint={self.fingerprint()!r})"
