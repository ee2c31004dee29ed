"""The data files shipped in ``companion/data/files/`` and the published train/test splits they hold."""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable

SPLITS = ("train", "test")


def shipped(name: str) -> Traversable:
    """The file ``companion/data/files/<name>``, read with ``.open("rb")`` or ``.read_text()``."""
    return resources.files("companion.data").joinpath("files", name)


def check_split(where: str, split) -> str:
    """``split`` if it names a published part, ``"train"`` or ``"test"``; else a ``ValueError``."""
    if split not in SPLITS:
        raise ValueError(f"{where}: expected split 'train' or 'test', got {split!r}")
    return split
