"""Sphinx extension: the search page lists chapters before API entries.

Sphinx's search scores a page that merely mentions a word (5) below an API object whose name contains
it (11 to 26), so a search for "LSTM" listed every ``LSTM`` class, method and parameter of the API
reference before the LSTM chapter. This extension installs ``search_scorer.js`` (next to this file)
as ``html_search_scorer``: it keeps Sphinx's weights and adds

- a bonus to every chapter (a document named ``NN-topic``, the book's chapter files), and
- a larger bonus to a chapter whose file name contains a word of the query (``05-lstm`` for "LSTM",
  ``03-bptt`` for "BPTT"): the chapter about a topic comes first, then the other chapters, then the
  API entries, whose relative order is unchanged.

The scorer file is named by its absolute path because Sphinx opens it relative to the working
directory, not to the book.

It also adds ``search_snippets.js`` (book/_static) to the search page: each result's snippet is taken
from the article alone (not the page's contents list and buttons) and its TeX is written as plain
symbols ("h_t → h_t+1", not "\\(h_t \\to h_{t+1}\\)").
"""

from __future__ import annotations

from pathlib import Path

SCORER = Path(__file__).with_name("search_scorer.js")


def _set_scorer(app, config):
    config.html_search_scorer = str(SCORER)


def _snippets(app, pagename, templatename, context, doctree):
    if pagename == "search":
        # this page only (called in html-page-context); deferred: it runs after searchtools.js
        app.add_js_file("search_snippets.js", defer="defer")


def setup(app):
    app.connect("config-inited", _set_scorer)
    app.connect("html-page-context", _snippets)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
