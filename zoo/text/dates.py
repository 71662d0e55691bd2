"""The date-normalisation task: messy human-written dates → ISO 8601 ("2026-11-22").

Every example is a calendar day written in one of ``DATE_FORMATS`` (``strftime`` patterns, so each
string parses back with ``datetime.strptime``), with day padding and letter case varied. The
held-out split draws its *days* from a set disjoint from the training days, so no held-out input
or target string is ever seen in training. All of it is deterministic given the seed.

Pure Python and NumPy; :func:`bucketed_dataset` imports TensorFlow when called.
"""

from __future__ import annotations

import datetime as dt
import random

import numpy as np

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# Unambiguous formats only: no pattern where day and month are both numbers in the same positions as
# another pattern with them swapped (so "%m/%d/%Y" is absent: it would clash with day-first dates).
DATE_FORMATS = (
    "%d %B %Y",         # 22 November 2026
    "%d %b %Y",         # 22 Nov 2026
    "%B %d, %Y",        # November 22, 2026
    "%b %d, %Y",        # Nov 22, 2026
    "%b %d %Y",         # Nov 22 2026
    "%d-%b-%Y",         # 22-Nov-2026
    "%A, %d %B %Y",     # Sunday, 22 November 2026
    "%a %d %b %Y",      # Sun 22 Nov 2026
    "%Y/%m/%d",         # 2026/11/22
    "%Y-%m-%d",         # 2026-11-22
    "%Y.%m.%d",         # 2026.11.22
    "%d.%m.%Y",         # 22.11.2026
    "%d.%m.%y",         # 22.11.26
    "%Y%m%d",           # 20261122
)
ISO_FORMAT = "%Y-%m-%d"

# %y reads 69-99 as 19xx and 00-68 as 20xx, so days in this range round-trip through every format.
FIRST_DAY = dt.date(1970, 1, 1)
LAST_DAY = dt.date(2065, 12, 31)

CASES = ("as is", "lower", "upper")

# Without separators an unpadded day is ambiguous ("2026112": Nov 2 or Jan 12), so it is always padded.
ALWAYS_PADDED = frozenset({"%Y%m%d"})


def format_date(day: dt.date, pattern: str, pad_day: bool = True, case: str = "as is") -> str:
    """``day`` written with the strftime ``pattern``; English names whatever the locale.

    ``pad_day=False`` writes %d without its leading zero ("Nov 2, 2026"; ignored for ``ALWAYS_PADDED``
    patterns); ``case`` is one of ``CASES``.
    """
    if case not in CASES:
        raise ValueError(f"case must be one of {CASES}, got {case!r}")
    text = pattern.replace("%B", MONTHS[day.month - 1]).replace("%b", MONTHS[day.month - 1][:3])
    text = text.replace("%A", WEEKDAYS[day.weekday()]).replace("%a", WEEKDAYS[day.weekday()][:3])
    if not pad_day and pattern not in ALWAYS_PADDED:
        text = text.replace("%d", str(day.day))
    text = day.strftime(text)
    return {"as is": text, "lower": text.lower(), "upper": text.upper()}[case]


def day_range(first: dt.date = FIRST_DAY, last: dt.date = LAST_DAY) -> list[dt.date]:
    """Every calendar day from ``first`` to ``last`` inclusive."""
    if last < first:
        raise ValueError(f"last day {last} is before first day {first}")
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def messy_date(day: dt.date, rng: random.Random) -> tuple[str, str, str]:
    """(messy string, ISO target, strftime pattern) for ``day``; format, padding and case drawn from ``rng``."""
    pattern = rng.choice(DATE_FORMATS)
    text = format_date(day, pattern, pad_day=rng.random() < 0.7, case=rng.choice(CASES))
    return text, day.isoformat(), pattern


def date_pairs(days, seed: int) -> list[tuple[str, str]]:
    """One (messy string, ISO date) pair per day in ``days``, deterministic given ``seed``."""
    rng = random.Random(seed)
    return [messy_date(day, rng)[:2] for day in days]


def train_test_split(n_train: int, n_test: int = 2000, seed: int = 0) -> tuple[list, list]:
    """Training and held-out (messy, ISO) pairs over disjoint sets of days.

    The held-out days are ``n_test`` days drawn once from ``FIRST_DAY..LAST_DAY``; training pairs are
    ``n_train`` draws (with replacement, each in a fresh random format) from the remaining days.
    """
    if n_train < 1 or n_test < 1:
        raise ValueError(f"n_train and n_test must be positive, got {n_train} and {n_test}")
    days = day_range()
    if n_test >= len(days):
        raise ValueError(f"n_test={n_test} leaves no training days out of {len(days)}")
    rng = random.Random(seed)
    order = list(range(len(days)))
    rng.shuffle(order)
    test_days = [days[i] for i in order[:n_test]]
    train_pool = [days[i] for i in order[n_test:]]
    train_days = [rng.choice(train_pool) for _ in range(n_train)]
    return date_pairs(train_days, seed + 1), date_pairs(test_days, seed + 2)


def bucketed_batches(sources, batch_size: int, bucket_boundaries=(12, 16, 20, 24, 32, 41)) -> int:
    """The number of batches in one pass of :func:`bucketed_dataset`: ``bucket_by_sequence_length`` emits full
    batches and flushes each bucket's remainder at the end."""
    lengths = np.array([len(s) for s in sources])
    boundaries = list(bucket_boundaries)
    per_bucket = np.bincount(np.searchsorted(boundaries, lengths, side="right"), minlength=len(boundaries) + 1)
    return int(sum(-(-n // batch_size) for n in per_bucket))


def bucketed_dataset(sources, targets, batch_size: int, bucket_boundaries=(12, 16, 20, 24, 32, 41),
                     shuffle: bool = False, seed: int = 0, pad_to_bucket_boundary: bool = True,
                     epochs: int | None = None, initial_epoch: int = 0):
    """A ``tf.data`` pipeline of ``((source ids, decoder input ids), decoder target ids, weights)`` batches.

    ``sources``/``targets`` are lists of 1-D integer arrays of varying length (0 = padding is not in
    them). Examples are grouped by source length with ``bucket_by_sequence_length`` and padded with 0
    inside each batch; ``weights`` is 1 on real target positions and 0 on padding, so padding never
    enters the loss. Decoder inputs are the targets shifted right (the caller puts BOS first).

    With ``epochs``, the dataset holds the epochs ``initial_epoch`` … ``epochs − 1`` one after the other, each
    shuffled (when ``shuffle``) in an order that depends on (``seed``, epoch) alone, so that a run resumed at
    epoch e sees the batches an uninterrupted one sees; pass :func:`bucketed_batches` to ``fit`` as
    ``steps_per_epoch``.
    Without it, one pass, reshuffled at every iteration.
    """
    import tensorflow as tf

    if len(sources) != len(targets) or not sources:
        raise ValueError(f"need as many targets as sources (> 0), got {len(sources)} and {len(targets)}")
    boundaries = list(bucket_boundaries)
    lengths = np.array([len(s) for s in sources])
    if pad_to_bucket_boundary and lengths.max() >= boundaries[-1]:
        raise ValueError(f"a source of length {lengths.max()} does not fit under the last bucket boundary "
                         f"{boundaries[-1]}; raise bucket_boundaries[-1] or pass pad_to_bucket_boundary=False")
    batches = bucketed_batches(sources, batch_size, boundaries)
    decoder_in = [np.asarray(t[:-1], np.int32) for t in targets]
    decoder_out = [np.asarray(t[1:], np.int32) for t in targets]

    # Sources are padded here, not by bucket_by_sequence_length's pad_to_bucket_boundary (which would pad
    # the decoder sequences to the source boundary too).
    widths = np.array(boundaries)[np.searchsorted(boundaries, lengths, side="right")] - 1 \
        if pad_to_bucket_boundary else lengths

    def generate():
        for s, width, d_in, d_out in zip(sources, widths, decoder_in, decoder_out):
            yield np.pad(np.asarray(s, np.int32), (0, width - len(s))), d_in, d_out

    spec = tf.TensorSpec([None], tf.int32)
    examples = tf.data.Dataset.from_generator(generate, output_signature=(spec, spec, spec)).cache()

    def in_epoch_order(epoch):
        # A NumPy permutation drawn from (seed, epoch) alone, whatever ran before in this process.
        for index in np.random.default_rng([int(seed), int(epoch)]).permutation(len(sources)):
            yield (np.pad(np.asarray(sources[index], np.int32), (0, widths[index] - len(sources[index]))),
                   decoder_in[index], decoder_out[index])

    def one_epoch(epoch=None):
        if epoch is not None and shuffle:
            ds = tf.data.Dataset.from_generator(in_epoch_order, args=(epoch,),
                                                output_signature=(spec, spec, spec))
        elif shuffle:
            ds = examples.shuffle(len(sources), seed=seed, reshuffle_each_iteration=True)
        else:
            ds = examples
        return ds.bucket_by_sequence_length(
            element_length_func=lambda s, d_in, d_out: tf.shape(s)[0],
            bucket_boundaries=boundaries,
            bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
        )

    if epochs is None:
        ds = one_epoch().apply(tf.data.experimental.assert_cardinality(batches))
    else:
        ds = tf.data.Dataset.range(initial_epoch, max(int(epochs), int(initial_epoch))).flat_map(one_epoch)
    ds = ds.map(lambda s, d_in, d_out: ((s, d_in), d_out, tf.cast(d_out > 0, tf.float32)))
    return ds.prefetch(tf.data.AUTOTUNE)
