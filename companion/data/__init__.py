"""Data for the course: generated from explicit seeds or shipped with the package. Nothing is ever
downloaded.

:mod:`~companion.data.tasks` holds the synthetic sequence tasks (numpy, chapter 1 onwards) and
``companion.data.dates`` the date-format translation pairs of chapter 8 (it imports torch);
``companion.data.text`` reads text corpora (the shipped Genesis, or any text) for the language models of
chapter 9, and ``companion.data.music`` the shipped Bach chorale melodies of chapter 10.
``companion.data.series`` holds the monthly CO₂ and yearly sunspot series and the leakage-free windows
of chapter 11. For chapter 12,
``companion.data.vowels`` holds the Japanese Vowels speaker set, ``companion.data.sentiment`` film-review
sentences rated for sentiment and ``companion.data.video`` clips of moving shapes generated from a seed.
The shipped files and their sources and licences are in ``companion/data/files/`` (``README.md`` there).
After ``import companion.data`` each module is an attribute of the package, imported the first time
it is used (``help(companion.data.tasks)``), so reading the numpy tasks never imports torch.
"""

import importlib

_MODULES = ("dates", "music", "sentiment", "series", "tasks", "text", "video", "vowels")


def __getattr__(name: str):
    if name in _MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_MODULES})
