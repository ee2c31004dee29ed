"""companion.data.dates: formats read back by an independent parser, the split by date, the vocabulary."""

import datetime
import doctest
import re

import numpy as np
import pytest
import torch

from companion.data import dates
from companion.data.dates import (
    FIRST_DATE,
    FORMATS,
    LAST_DATE,
    SOURCE_VOCAB,
    TARGET_VOCAB,
    CharVocab,
    date_pairs,
    date_split,
    date_task,
    format_date,
)

THURSDAY = datetime.date(1979, 5, 3)

# The table of the module docstring: 3 May 1979 in every format.
EXPECTED = {
    "D Month YYYY": "3 May 1979",
    "MM/DD/YY": "05/03/79",
    "Weekday, Month Dth YYYY": "Thursday, May 3rd 1979",
    "YYYY Month D": "1979 May 3",
    "D.M.YYYY": "3.5.1979",
    "Month D, YYYY": "May 3, 1979",
    "DD-Mon-YY": "03-May-79",
    "Dth of Month YYYY": "3rd of May 1979",
    "Wkd D Mon YYYY": "Thu 3 May 1979",
    "M/D/YYYY": "5/3/1979",
    "DD.MM.YY": "03.05.79",
    "YYYYMMDD": "19790503",
    "Weekday the Dth of Month YYYY": "Thursday the 3rd of May 1979",
    "MON D YYYY": "MAY 3 1979",
    "Mon D 'YY": "May 3 '79",
}

MONTHS = "January February March April May June July August September October November December".split()
WEEKDAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
D, DD, M, MM = r"(?P<d>[1-9]|[12]\d|3[01])", r"(?P<d>\d\d)", r"(?P<m>[1-9]|1[0-2])", r"(?P<m>\d\d)"
Y, YY, TH = r"(?P<y>\d{4})", r"(?P<yy>\d\d)", r"(?P<th>st|nd|rd|th)"
MONTH, MON, MONU = r"(?P<month>[A-Z][a-z]+)", r"(?P<mon>[A-Z][a-z]{2})", r"(?P<monu>[A-Z]{3})"
WD, WKD = r"(?P<wd>[A-Z][a-z]+)", r"(?P<wkd>[A-Z][a-z]{2})"
# One pattern per format, written from the docstring's table, not from the module's templates.
PATTERNS = {
    "D Month YYYY": f"{D} {MONTH} {Y}",
    "MM/DD/YY": f"{MM}/{DD}/{YY}",
    "Weekday, Month Dth YYYY": f"{WD}, {MONTH} {D}{TH} {Y}",
    "YYYY Month D": f"{Y} {MONTH} {D}",
    "D.M.YYYY": rf"{D}\.{M}\.{Y}",
    "Month D, YYYY": f"{MONTH} {D}, {Y}",
    "DD-Mon-YY": f"{DD}-{MON}-{YY}",
    "Dth of Month YYYY": f"{D}{TH} of {MONTH} {Y}",
    "Wkd D Mon YYYY": f"{WKD} {D} {MON} {Y}",
    "M/D/YYYY": f"{M}/{D}/{Y}",
    "DD.MM.YY": rf"{DD}\.{MM}\.{YY}",
    "YYYYMMDD": f"{Y}{MM}{DD}",
    "Weekday the Dth of Month YYYY": f"{WD} the {D}{TH} of {MONTH} {Y}",
    "MON D YYYY": f"{MONU} {D} {Y}",
    "Mon D 'YY": f"{MON} {D} '{YY}",
}


def reading(match: re.Match):
    """The date a matched string names, or None if its parts do not make one consistent date."""
    g = match.groupdict()
    year = int(g["y"]) if g.get("y") else (1900 if int(g["yy"]) >= 50 else 2000) + int(g["yy"])
    names = {"month": MONTHS, "mon": [m[:3] for m in MONTHS], "monu": [m[:3].upper() for m in MONTHS]}
    month = next((names[k].index(g[k]) + 1 for k in names if g.get(k) and g[k] in names[k]), None)
    month = int(g["m"]) if g.get("m") else month
    try:
        d = datetime.date(year, month, int(g["d"]))
    except (TypeError, ValueError):
        return None
    if g.get("th") and g["th"] != {1: "st", 2: "nd", 3: "rd", 21: "st", 22: "nd", 23: "rd", 31: "st"}.get(
        d.day, "th"
    ):
        return None
    weekday = WEEKDAYS[d.weekday()]
    if (g.get("wd") and g["wd"] != weekday) or (g.get("wkd") and g["wkd"] != weekday[:3]):
        return None
    return d


def readings(text: str) -> dict:
    """Every (format, date) under which ``text`` reads as a valid date."""
    found = {}
    for name, pattern in PATTERNS.items():
        match = re.fullmatch(pattern, text)
        if match and (d := reading(match)) is not None:
            found[name] = d
    return found


def test_the_documented_table():
    assert set(FORMATS) == set(EXPECTED) and len(FORMATS) == 15
    for name in FORMATS:
        assert format_date(THURSDAY, name) == EXPECTED[name]
    assert format_date(THURSDAY, "ISO") == "1979-05-03"


@pytest.mark.parametrize(
    "day, weekday", [((1969, 7, 20), "Sunday"), ((2000, 1, 1), "Saturday"), ((1950, 1, 1), "Sunday")]
)
def test_weekdays_of_known_dates(day, weekday):
    assert format_date(datetime.date(*day), "Weekday the Dth of Month YYYY").startswith(weekday + " the ")


@pytest.mark.parametrize(
    "day, text", [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (11, "11th"), (12, "12th"), (13, "13th"),
                  (21, "21st"), (22, "22nd"), (23, "23rd"), (30, "30th"), (31, "31st")],
)  # fmt: skip
def test_ordinal_suffixes(day, text):
    assert format_date(datetime.date(2001, 1, day), "Dth of Month YYYY") == f"{text} of January 2001"


def test_every_source_names_exactly_one_date():
    """Read back without knowing the format: every string has one reading, the date it was made from.

    Whole years (every day and month, 29 February, both centuries, the range's ends) and a random
    sample of the rest; any collision between formats (05/03 as May or March) would show as two readings.
    """
    days = [
        datetime.date(y, 1, 1) + datetime.timedelta(i)
        for y in (1950, 1952, 2000, 2049)
        for i in range(366 if y % 4 == 0 else 365)
    ]
    gen = np.random.default_rng(0)
    days += [FIRST_DATE + datetime.timedelta(int(i)) for i in gen.integers(0, 36525, size=1500)]
    for d in days:
        for name in FORMATS:
            text = format_date(d, name)
            found = readings(text)
            assert name in found, (d, name, text)
            assert set(found.values()) == {d}, (d, name, text, found)


def test_split_is_by_date_disjoint_and_complete():
    train, test = date_split(rng=0, test_fraction=0.1)
    assert len(train) + len(test) == (LAST_DATE - FIRST_DATE).days + 1 == 36525
    assert len(test) == 3652 and set(train).isdisjoint(test)
    assert train == sorted(train) and test == sorted(test)
    assert train[0] == FIRST_DATE or test[0] == FIRST_DATE
    # drawn across the whole range: every month of the year and every decade is held out somewhere
    assert {d.month for d in test} == set(range(1, 13))
    assert {d.year // 10 for d in test} == {d.year // 10 for d in train} == set(range(195, 205))


def test_task_test_dates_and_sources_never_seen_in_training():
    task = date_task(4000, 1500, rng=1)
    assert set(task.train.dates) <= set(task.train_dates)
    assert set(task.test.dates) <= set(task.test_dates)
    assert set(task.train.dates).isdisjoint(task.test.dates)
    assert set(task.train.sources).isdisjoint(task.test.sources)
    for pairs in (task.train, task.test):
        assert pairs.targets == [d.isoformat() for d in pairs.dates]
        assert [format_date(d, f) for d, f in zip(pairs.dates, pairs.formats, strict=True)] == pairs.sources
    counts = {f: task.test.formats.count(f) for f in FORMATS}
    assert min(counts.values()) > 1500 / 15 / 2, counts  # every format, the hard ones included
    assert len(set(task.test.dates)) > 1000  # many different held-out dates, not a few repeated


def test_same_seed_same_data():
    a, b, c = (
        date_task(50, 20, rng=3),
        date_task(50, 20, rng=np.random.default_rng(3)),
        date_task(50, 20, rng=4),
    )
    assert a == b
    assert a.train.sources != c.train.sources
    gen = np.random.default_rng(0)
    assert date_pairs(a.train_dates, 30, rng=gen) != date_pairs(a.train_dates, 30, rng=gen)


def test_date_pairs_respects_formats():
    pairs = date_pairs([THURSDAY], 5, rng=0, formats=["YYYYMMDD", "MM/DD/YY"])
    assert set(pairs.sources) <= {"19790503", "05/03/79"} and set(pairs.targets) == {"1979-05-03"}


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: date_split(rng=None), TypeError, "int seed or a numpy.random.Generator"),
        (lambda: date_split(rng=0, test_fraction=0), ValueError, r"test_fraction to be a number in \(0, 1\)"),
        (lambda: date_split(rng=0, test_fraction=1.0), ValueError, "test_fraction"),
        (lambda: date_pairs([THURSDAY], 0, rng=0), ValueError, "n to be a positive int, got 0"),
        (lambda: date_pairs([], 3, rng=0), ValueError, "at least one date"),
        (lambda: date_pairs([THURSDAY], 3, rng=0, formats=["DD/MM/YY"]), ValueError, "names from FORMATS"),
        (lambda: date_pairs([THURSDAY], 3, rng=0, formats=[]), ValueError, "non-empty"),
        (lambda: format_date(THURSDAY, "dd/mm"), ValueError, "'ISO' or a name from FORMATS, got 'dd/mm'"),
        (
            lambda: format_date(datetime.date(1949, 12, 31), "ISO"),
            ValueError,
            r"in \[1950-01-01, 2049-12-31\]",
        ),
        (lambda: format_date("1979-05-03", "ISO"), TypeError, "expected a datetime.date, got str"),
        (lambda: format_date(datetime.datetime(1979, 5, 3), "ISO"), TypeError, "got datetime"),
    ],
)
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_vocab_round_trip_on_every_format():
    task = date_task(300, 10, rng=0)
    for text in task.train.sources:
        assert SOURCE_VOCAB.decode(SOURCE_VOCAB.encode(text, sos=True, eos=True)) == text
    for text in task.train.targets:
        assert TARGET_VOCAB.decode(TARGET_VOCAB.encode(text)) == text
    assert len(TARGET_VOCAB) == 3 + 11 and set(TARGET_VOCAB.chars) == set("0123456789-")
    every_char = {
        c for d in (THURSDAY, datetime.date(2018, 9, 22)) for f in FORMATS for c in format_date(d, f)
    }
    assert every_char <= set(SOURCE_VOCAB.chars)


def test_specials_and_batches():
    vocab = CharVocab("abc")
    assert (vocab.pad, vocab.sos, vocab.eos, len(vocab)) == (0, 1, 2, 6)
    assert vocab.encode("cab", sos=True, eos=True) == [1, 5, 3, 4, 2]
    assert vocab.decode([1, 5, 0, 3, 2, 4]) == "ca"  # start and padding skipped, stops at the end token
    ids, lengths = vocab.batch(["ab", "cabc", ""], sos=True, eos=True)
    assert ids.dtype == lengths.dtype == torch.int64
    expected = [[1, 3, 4, 2, 0, 0], [1, 5, 3, 4, 5, 2], [1, 2, 0, 0, 0, 0]]
    assert ids.tolist() == expected and lengths.tolist() == [4, 6, 2]
    assert vocab.decode_batch(ids) == ["ab", "cabc", ""]


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda v: v.encode("abz"), r"characters \['z'\] of 'abz' are not in the vocab"),
        (lambda v: v.decode([3, 9]), r"expected ids in \[0, 6\), got 9"),
        (lambda v: v.batch([]), "non-empty sequence of strings"),
        (lambda v: v.batch("ab"), "non-empty sequence of strings"),
        (lambda v: v.decode_batch(torch.zeros(3, dtype=torch.int64)), r"ids of shape \(N, T\), got \(3,\)"),
        (lambda v: CharVocab("aba"), "distinct single characters"),
    ],
)
def test_vocab_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call(CharVocab("abc"))


def test_public_names():
    assert set(dates.__all__) == {
        "FIRST_DATE", "LAST_DATE", "FORMATS", "format_date", "date_split", "date_pairs", "DatePairs",
        "DateTask", "date_task", "CharVocab", "SOURCE_VOCAB", "TARGET_VOCAB",
    }  # fmt: skip


def test_docstring_examples():
    result = doctest.testmod(dates)
    assert result.failed == 0 and result.attempted == 9
