"""Date-format translation: many human ways of writing a date, to ISO 8601 (chapter 8).

A source is a date as people write it, a target the same date as ``YYYY-MM-DD``; a sequence-to-sequence
model reads the characters of one and writes the characters of the other. Dates run from 1 January
1950 to 31 December 2049, so a two-digit year ``yy`` is read as 19yy for yy ≥ 50 and 20yy below.
The formats (shown for 3 May 1979, a Thursday):

=====================================  ===============================  ================================
name                                   example                          what the model has to read
=====================================  ===============================  ================================
``D Month YYYY``                       3 May 1979                       day, month name
``MM/DD/YY``                           05/03/79                         month first ("/" is American)
``Weekday, Month Dth YYYY``            Thursday, May 3rd 1979           skip the weekday, ordinal suffix
``YYYY Month D``                       1979 May 3                       year first
``D.M.YYYY``                           3.5.1979                         day first ("." is European)
``Month D, YYYY``                      May 3, 1979                      month name first
``DD-Mon-YY``                          03-May-79                        abbreviation, century
``Dth of Month YYYY``                  3rd of May 1979                  ordinal, "of"
``Wkd D Mon YYYY``                     Thu 3 May 1979                   abbreviated weekday and month
``M/D/YYYY``                           5/3/1979                         month first, no zero padding
``DD.MM.YY``                           03.05.79                         day first, century
``YYYYMMDD``                           19790503                         digits only, fixed positions
``Weekday the Dth of Month YYYY``      Thursday the 3rd of May 1979     the long form
``MON D YYYY``                         MAY 3 1979                       capitals
``Mon D 'YY``                          May 3 '79                        apostrophe year
=====================================  ===============================  ================================

In the all-digit forms the order of day and month is fixed by the separator: "/" puts the month
first, "." the day first, so "05/03/79" and "03.05.79" are both 3 May 1979. A model has to read that
order from context (the separator, or a month name, an ordinal "3rd", a day above 12), and every
source string names exactly one date. Names are English, written out here (``calendar.month_name``
would follow the locale).

The held-out test set is split **by date**: :func:`date_split` puts a random fraction of all days
aside, and no test date, in any format, is ever a training example. A test source is therefore a
string never seen in training, and getting it right means composing day, month and year read from
different places.

Characters become integer ids through a :class:`CharVocab` with padding, start and end tokens;
:data:`SOURCE_VOCAB` covers every character the formats write, :data:`TARGET_VOCAB` the ISO form.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from companion._validate import as_rng

__all__ = [
    "FIRST_DATE",
    "LAST_DATE",
    "FORMATS",
    "format_date",
    "date_split",
    "date_pairs",
    "DatePairs",
    "DateTask",
    "date_task",
    "CharVocab",
    "SOURCE_VOCAB",
    "TARGET_VOCAB",
]

#: First date of the task (two-digit years 50–99 are 1950–1999).
FIRST_DATE = datetime.date(1950, 1, 1)
#: Last date of the task (two-digit years 00–49 are 2000–2049).
LAST_DATE = datetime.date(2049, 12, 31)

_MONTHS = "January February March April May June July August September October November December".split()
_WEEKDAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()  # date.weekday() order


def _th(day: int) -> str:
    """``3`` -> ``3rd``, ``11`` -> ``11th``, ``22`` -> ``22nd``."""
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def _parts(d: datetime.date) -> dict[str, str]:
    month, weekday = _MONTHS[d.month - 1], _WEEKDAYS[d.weekday()]
    day, mon, year = d.day, d.month, d.year
    parts = dict(D=str(day), DD=f"{day:02d}", Dth=_th(day), M=str(mon), MM=f"{mon:02d}", YYYY=f"{year:04d}")
    parts.update(YY=f"{year % 100:02d}", Month=month, Mon=month[:3], MON=month[:3].upper())
    return parts | dict(Weekday=weekday, Wkd=weekday[:3])


_TEMPLATES = {
    "D Month YYYY": "{D} {Month} {YYYY}",
    "MM/DD/YY": "{MM}/{DD}/{YY}",
    "Weekday, Month Dth YYYY": "{Weekday}, {Month} {Dth} {YYYY}",
    "YYYY Month D": "{YYYY} {Month} {D}",
    "D.M.YYYY": "{D}.{M}.{YYYY}",
    "Month D, YYYY": "{Month} {D}, {YYYY}",
    "DD-Mon-YY": "{DD}-{Mon}-{YY}",
    "Dth of Month YYYY": "{Dth} of {Month} {YYYY}",
    "Wkd D Mon YYYY": "{Wkd} {D} {Mon} {YYYY}",
    "M/D/YYYY": "{M}/{D}/{YYYY}",
    "DD.MM.YY": "{DD}.{MM}.{YY}",
    "YYYYMMDD": "{YYYY}{MM}{DD}",
    "Weekday the Dth of Month YYYY": "{Weekday} the {Dth} of {Month} {YYYY}",
    "MON D YYYY": "{MON} {D} {YYYY}",
    "Mon D 'YY": "{Mon} {D} '{YY}",
}

#: The names of the source formats, in the order of the table in the module docstring.
FORMATS: tuple[str, ...] = tuple(_TEMPLATES)


def _check_date(where: str, d) -> None:
    if not isinstance(d, datetime.date) or isinstance(d, datetime.datetime):
        raise TypeError(f"{where}: expected a datetime.date, got {type(d).__name__}")
    if not FIRST_DATE <= d <= LAST_DATE:
        raise ValueError(f"{where}: expected a date in [{FIRST_DATE}, {LAST_DATE}], got {d}")


def _check_formats(where: str, formats) -> tuple[str, ...]:
    formats = tuple(formats)
    unknown = [f for f in formats if f not in _TEMPLATES]
    if not formats or unknown:
        raise ValueError(f"{where}: expected a non-empty sequence of names from FORMATS, got {formats!r}")
    return formats


def format_date(d: datetime.date, fmt: str) -> str:
    """Write the date ``d`` in the format named ``fmt`` (a name from :data:`FORMATS`).

    Parameters
    ----------
    d : ``datetime.date``
        A date between :data:`FIRST_DATE` and :data:`LAST_DATE`.
    fmt : str
        Format name, e.g. ``"D Month YYYY"``; ``"ISO"`` gives the target form ``YYYY-MM-DD``.

    Returns
    -------
    str

    Raises
    ------
    ValueError
        If ``fmt`` is unknown or ``d`` outside the task's range.
    TypeError
        If ``d`` is not a ``datetime.date``.

    Examples
    --------
    >>> format_date(datetime.date(1979, 5, 3), "Weekday, Month Dth YYYY")
    'Thursday, May 3rd 1979'
    >>> format_date(datetime.date(1979, 5, 3), "ISO")
    '1979-05-03'
    """
    _check_date("format_date", d)
    if fmt == "ISO":
        return d.isoformat()
    if fmt not in _TEMPLATES:
        raise ValueError(f"format_date: expected fmt to be 'ISO' or a name from FORMATS, got {fmt!r}")
    return _TEMPLATES[fmt].format(**_parts(d))


def date_split(*, rng, test_fraction: float = 0.1):
    """Split every day from :data:`FIRST_DATE` to :data:`LAST_DATE` into training and test dates.

    Parameters
    ----------
    rng : int or numpy.random.Generator
        Seed or generator choosing the test days.
    test_fraction : float, default 0.1
        Fraction of the 36,525 days held out, in (0, 1).

    Returns
    -------
    train_dates, test_dates : list of ``datetime.date``
        Disjoint, each sorted; together every day of the range. Test days are drawn uniformly
        from the whole range (not, say, the last years, whose digits training would never show).

    Raises
    ------
    ValueError
        If ``test_fraction`` is not in (0, 1).
    TypeError
        If ``rng`` is neither a seed nor a generator.
    """
    if (
        isinstance(test_fraction, bool)
        or not isinstance(test_fraction, (int, float))
        or not 0 < test_fraction < 1
    ):
        raise ValueError(
            f"date_split: expected test_fraction to be a number in (0, 1), got {test_fraction!r}"
        )
    gen = as_rng(rng)
    days = (LAST_DATE - FIRST_DATE).days + 1
    n_test = min(max(1, round(test_fraction * days)), days - 1)
    is_test = np.zeros(days, dtype=bool)
    is_test[gen.choice(days, size=n_test, replace=False)] = True
    dates = [FIRST_DATE + datetime.timedelta(days=i) for i in range(days)]
    split: tuple[list, list] = ([], [])
    for d, held_out in zip(dates, is_test.tolist(), strict=True):
        split[held_out].append(d)
    return split


class DatePairs(NamedTuple):
    """Source and target strings of a date-translation set, with what each was made from.

    Attributes
    ----------
    sources : list of str
        The dates as written in ``formats``.
    targets : list of str
        The same dates as ``YYYY-MM-DD``.
    dates : list of ``datetime.date``
    formats : list of str
        The format name of each source (for accuracy per format).
    """

    sources: list[str]
    targets: list[str]
    dates: list[datetime.date]
    formats: list[str]


def date_pairs(dates: Sequence[datetime.date], n: int, *, rng, formats: Sequence[str] = FORMATS) -> DatePairs:
    """Draw ``n`` examples: a date from ``dates`` and a format from ``formats``, both uniformly.

    Parameters
    ----------
    dates : sequence of ``datetime.date``
        The dates to draw from (e.g. the training dates of :func:`date_split`).
    n : int
        Number of examples N.
    rng : int or numpy.random.Generator
        Seed or generator.
    formats : sequence of str, default FORMATS
        Names of the source formats to use.

    Returns
    -------
    DatePairs

    Raises
    ------
    ValueError
        If ``n`` is not a positive int, ``dates`` is empty or holds a date outside the range, or a
        format is unknown.
    TypeError
        If an element of ``dates`` is not a ``datetime.date``.

    Examples
    --------
    >>> pairs = date_pairs([datetime.date(1979, 5, 3)], 2, rng=0, formats=["D.M.YYYY"])
    >>> pairs.sources, pairs.targets
    (['3.5.1979', '3.5.1979'], ['1979-05-03', '1979-05-03'])
    """
    where = "date_pairs"
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{where}: expected n to be a positive int, got {n!r}")
    formats = _check_formats(where, formats)
    if len(dates) == 0:
        raise ValueError(f"{where}: expected at least one date, got none")
    for d in dates:
        _check_date(where, d)
    gen = as_rng(rng)
    picked = [dates[i] for i in gen.integers(len(dates), size=n)]
    names = [formats[i] for i in gen.integers(len(formats), size=n)]
    sources = [format_date(d, f) for d, f in zip(picked, names, strict=True)]
    return DatePairs(sources, [d.isoformat() for d in picked], picked, names)


class DateTask(NamedTuple):
    """A training set and a test set of date translations whose dates never overlap.

    Attributes
    ----------
    train, test : DatePairs
    train_dates, test_dates : list of ``datetime.date``
        The split of all days the two sets were drawn from.
    """

    train: DatePairs
    test: DatePairs
    train_dates: list[datetime.date]
    test_dates: list[datetime.date]


def date_task(n_train: int, n_test: int, *, rng, test_fraction: float = 0.1, formats=FORMATS) -> DateTask:
    """The chapter's data: :func:`date_split`, then :func:`date_pairs` on each side.

    Parameters
    ----------
    n_train, n_test : int
        Numbers of training and test examples.
    rng : int or numpy.random.Generator
        Seed or generator (the split, then the training draws, then the test draws).
    test_fraction : float, default 0.1
        Fraction of days held out for testing.
    formats : sequence of str, default FORMATS

    Returns
    -------
    DateTask

    Examples
    --------
    >>> task = date_task(1000, 100, rng=0)
    >>> set(task.train.dates).isdisjoint(task.test.dates)
    True
    """
    gen = as_rng(rng)
    train_dates, test_dates = date_split(rng=gen, test_fraction=test_fraction)
    train = date_pairs(train_dates, n_train, rng=gen, formats=formats)
    test = date_pairs(test_dates, n_test, rng=gen, formats=formats)
    return DateTask(train, test, train_dates, test_dates)


class CharVocab:
    """Characters to integer ids and back, with padding (0), start (1) and end (2) tokens.

    Parameters
    ----------
    chars : str or iterable of str
        The characters, each once; ids 3, 4, … in the given order.

    Attributes
    ----------
    pad, sos, eos : int
        Ids of the padding, start-of-sequence and end-of-sequence tokens: 0, 1, 2.
    chars : str
        The ordinary characters, in id order.

    Raises
    ------
    ValueError
        If a character repeats or is not a single character.

    Examples
    --------
    >>> vocab = CharVocab("0123456789-")
    >>> vocab.encode("19-", eos=True)
    [4, 12, 13, 2]
    >>> vocab.decode([4, 12, 13, 2, 0])
    '19-'
    """

    pad, sos, eos = 0, 1, 2
    specials = ("<pad>", "<s>", "</s>")

    def __init__(self, chars) -> None:
        chars = list(chars)
        if any(not isinstance(c, str) or len(c) != 1 for c in chars) or len(set(chars)) != len(chars):
            raise ValueError(f"CharVocab: expected distinct single characters, got {chars!r}")
        self.chars = "".join(chars)
        self._ids = {c: i + len(self.specials) for i, c in enumerate(chars)}

    def __len__(self) -> int:
        """Vocabulary size V: the three special tokens plus the characters."""
        return len(self.specials) + len(self.chars)

    def __repr__(self) -> str:
        return f"CharVocab({self.chars!r})"

    def encode(self, text: str, *, sos: bool = False, eos: bool = False) -> list[int]:
        """Ids of the characters of ``text``, after a start token and before an end token if asked."""
        unknown = sorted(set(text) - set(self._ids))
        if unknown:
            raise ValueError(f"CharVocab.encode: characters {unknown!r} of {text!r} are not in the vocab")
        return [self.sos] * sos + [self._ids[c] for c in text] + [self.eos] * eos

    def decode(self, ids) -> str:
        """Text of a sequence of ids: start and padding tokens skipped, stops at the first end token."""
        out = []
        for i in [int(i) for i in ids]:
            if i == self.eos:
                break
            if not 0 <= i < len(self):
                raise ValueError(f"CharVocab.decode: expected ids in [0, {len(self)}), got {i}")
            if i >= len(self.specials):
                out.append(self.chars[i - len(self.specials)])
        return "".join(out)

    def batch(self, texts: Sequence[str], *, sos: bool = False, eos: bool = False) -> tuple[Tensor, Tensor]:
        """Encode strings into one padded batch.

        Parameters
        ----------
        texts : sequence of str
            N strings.
        sos, eos : bool, default False
            Add a start token before / an end token after each string.

        Returns
        -------
        ids : Tensor of int64 of shape (N, T)
            T = the longest encoded string; the padding id after each string's end.
        lengths : Tensor of int64 of shape (N,)
            Encoded length of each string (special tokens included).

        Raises
        ------
        ValueError
            If ``texts`` is empty or holds an unknown character.
        """
        if isinstance(texts, str) or len(texts) == 0:
            raise ValueError(f"CharVocab.batch: expected a non-empty sequence of strings, got {texts!r}")
        encoded = [self.encode(t, sos=sos, eos=eos) for t in texts]
        lengths = torch.tensor([len(e) for e in encoded], dtype=torch.int64)  # (N,)
        ids = torch.full((len(encoded), int(lengths.max())), self.pad, dtype=torch.int64)  # (N, T)
        for row, e in zip(ids, encoded, strict=True):
            row[: len(e)] = torch.tensor(e, dtype=torch.int64)
        return ids, lengths

    def decode_batch(self, ids: Tensor) -> list[str]:
        """:meth:`decode` each row of an int tensor of shape (N, T)."""
        if not isinstance(ids, Tensor) or ids.dim() != 2:
            shape = tuple(ids.shape) if isinstance(ids, Tensor) else type(ids).__name__
            raise ValueError(f"CharVocab.decode_batch: expected ids of shape (N, T), got {shape}")
        return [self.decode(row) for row in ids.tolist()]


def _source_chars() -> str:
    names = _MONTHS + _WEEKDAYS + [m[:3].upper() for m in _MONTHS] + ["st nd rd th of the"]
    return "".join(sorted(set("".join(names)) | set("0123456789 ,./-'")))


#: Every character a source format writes, the letters of the English names, digits, space and ``,./-'``.
SOURCE_VOCAB = CharVocab(_source_chars())
#: The characters of ``YYYY-MM-DD``.
TARGET_VOCAB = CharVocab("0123456789-")
