"""Sphinx extension: bibliography labels written the way the chapters cite, "Cho et al., 2014".

sphinxcontrib-bibtex's default style labels entries with alpha keys (``[CvMerrienboerG+14]``), which
match nothing in the text. This extension registers a pybtex style, ``author_year``, that sorts the
bibliography in the order of the labels and labels each entry

- ``Elman, 1990`` for one author,
- ``Hochreiter and Schmidhuber, 1997`` for two,
- ``Cho et al., 2014`` for three or more,

with ``a``, ``b``, ... appended in bibliography order when two entries would share a label
(``Cho et al., 2014a``). Set ``bibtex_default_style = "author_year"`` and
``bibtex_reference_style = "label"``: a citation in the text then shows the entry's label, so the
text and the list agree.
"""

from __future__ import annotations

import codecs
import string
from collections import Counter

import latexcodec  # noqa: F401  (registers the "ulatex" codec)
from pybtex.plugin import register_plugin
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle
from pybtex.style.sorting import BaseSortingStyle


def _plain(latex: str) -> str:
    """``Merri{\\"e}nboer`` -> ``Merriënboer``."""
    return codecs.decode(latex, "ulatex").replace("{", "").replace("}", "")


def surname(person) -> str:
    return " ".join(_plain(part) for part in [*person.prelast_names, *person.last_names])


def base_label(entry) -> str:
    """The label without its disambiguating letter: authors (or editors) and year."""
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [surname(p) for p in people]
    if not names:
        who = _plain(entry.fields.get("key", entry.key))
    elif len(names) == 1:
        who = names[0]
    elif len(names) == 2:
        who = f"{names[0]} and {names[1]}"
    else:
        who = f"{names[0]} et al."
    return f"{who}, {entry.fields.get('year', 'n.d.')}"


class AuthorYearLabelStyle(BaseLabelStyle):
    def format_labels(self, sorted_entries):
        entries = list(sorted_entries)
        bases = [base_label(e) for e in entries]
        count, seen = Counter(bases), Counter()
        for base in bases:
            if count[base] == 1:
                yield base
            else:
                yield base + string.ascii_lowercase[seen[base]]
                seen[base] += 1


class LabelSortingStyle(BaseSortingStyle):
    """Entries in the order of their labels: first author, then one, two or more authors, then year."""

    def sorting_key(self, entry):
        people = entry.persons.get("author") or entry.persons.get("editor") or []
        first = surname(people[0]).lower() if people else entry.key
        return (first, min(len(people), 3), entry.fields.get("year", ""), entry.fields.get("title", ""))


class AuthorYearStyle(UnsrtStyle):
    default_label_style = "author_year"
    default_sorting_style = "author_year_label_order"


def setup(app):
    register_plugin("pybtex.style.labels", "author_year", AuthorYearLabelStyle, force=True)
    register_plugin("pybtex.style.sorting", "author_year_label_order", LabelSortingStyle, force=True)
    register_plugin("pybtex.style.formatting", "author_year", AuthorYearStyle, force=True)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
