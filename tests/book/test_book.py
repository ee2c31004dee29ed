"""The book's structure: the table of contents, the notebooks as committed, and the rule that
notebooks import the package instead of redefining it."""

import ast
import importlib
import json
import pkgutil
from pathlib import Path

import pytest
import yaml

import companion

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "book"
CHAPTER_SUFFIXES = (".md", ".ipynb")


def toc_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for entry in entries:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections", []))

    for part in toc.get("parts", []):
        walk(part["chapters"])
    walk(toc.get("chapters", []))
    return files


def resolve(entry):
    matches = [ROOT / f"{entry}{s}" for s in CHAPTER_SUFFIXES if (ROOT / f"{entry}{s}").exists()]
    return matches


def notebooks():
    return sorted(BOOK.glob("*.ipynb"))


def code_cells(path):
    return [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]


def test_every_toc_entry_exists_exactly_once():
    entries = toc_files()
    assert len(entries) == len(set(entries)), "a file is listed twice in _toc.yml"
    for entry in entries:
        assert len(resolve(entry)) == 1, f"_toc.yml lists {entry}, which has no single .md/.ipynb file"


def test_every_chapter_file_is_in_the_toc():
    listed = {str(p.relative_to(ROOT)) for e in toc_files() for p in resolve(e)}
    on_disk = {str(p.relative_to(ROOT)) for s in CHAPTER_SUFFIXES for p in BOOK.rglob(f"*{s}")}
    on_disk = {p for p in on_disk if ".ipynb_checkpoints" not in p}
    assert on_disk - listed == set(), "files in book/ that _toc.yml does not list"


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.name)
def test_notebook_is_committed_executed_in_order_without_errors(path):
    cells = code_cells(path)
    counts = [c["execution_count"] for c in cells]
    assert None not in counts, "every code cell needs a stored execution count (nbval compares outputs)"
    assert counts == list(range(1, len(cells) + 1)), "cells were not run once, top to bottom"
    for c in cells:
        for out in c["outputs"]:
            assert out["output_type"] != "error", f"a stored output is an error: {out.get('ename')}"


def public_names():
    names = set()
    for info in pkgutil.walk_packages(companion.__path__, "companion."):
        module = importlib.import_module(info.name)
        names.update(getattr(module, "__all__", []))
    return names


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.name)
def test_notebook_imports_the_package_and_redefines_none_of_it(path):
    source = "\n".join(
        "".join(
            line[: len(line) - len(line.lstrip())] + "pass\n"
            if line.lstrip().startswith(("%", "!"))
            else line
            for line in c["source"]
        )
        for c in code_cells(path)
    )
    tree = ast.parse(source)
    imports = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom)
        and (n.module or "").startswith("companion")
        or isinstance(n, ast.Import)
        and any(a.name.startswith("companion") for a in n.names)
    ]
    assert imports, "a chapter notebook imports its code from companion"
    defined = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    assert defined & public_names() == set(), "the notebook redefines package functions"


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.name)
def test_chapter_opens_with_goals_and_closes_with_a_summary(path):
    markdown = [
        "".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "markdown"
    ]
    assert markdown and markdown[0].startswith("# "), "a chapter starts with its title"
    text = "\n".join(markdown)
    assert "Learning goals" in text
    assert "## Summary" in text


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.name)
def test_notebook_installs_the_package_where_it_is_missing(path):
    """Colab has no companion package: a hidden first cell installs it from the repository of _config.yml."""
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    first = code_cells(path)[0]
    source = "".join(first["source"])
    assert "remove-cell" in first["metadata"].get("tags", []), "the install cell is hidden in the book"
    assert "except ModuleNotFoundError:" in source
    assert f'%pip install --quiet "rnn-companion @ git+{url}"' in source
    assert first["outputs"] == [], "where the package is installed the cell prints nothing"
