"""The API reference (book/api/, one or two pages per subpackage) documents every public name.

A public name is one listed in the ``__all__`` of a public module (no leading underscore in its
dotted name). The tests check three things:

- every public module is pulled into one of the pages of book/api/ by an ``automodule`` directive
  with ``:members:`` (or the name by its own ``autofunction``/``autoclass``/``autodata`` or a
  ``py:data`` written out); a name a package re-exports counts as documented where it is defined;
- every public function and class has a docstring, every public constant a ``#:`` comment
  (autodoc skips members without one);
- in the built book, the API pages together have an entry (an element with the name's dotted id)
  for every public name, each on one page only. This part needs a build newer than the package
  sources and the pages of book/api/: it is skipped
  with the reason when there is none, and fails then only when ``COURSE_REQUIRE_SITE=1``
  (``make site`` sets it, after the strict build).

The helper extension in book/_ext that renders numpydoc type lines is tested here too.
"""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import re
import sys
from pathlib import Path

import pytest
from sphinx.pycode import ModuleAnalyzer

import companion

ROOT = Path(__file__).resolve().parents[2]
API_DIR = ROOT / "book" / "api"
API_PAGES = sorted(API_DIR.glob("*.md"))
SITE = Path(os.environ.get("COURSE_SITE_DIR", ROOT / "_build" / "html")).resolve()
BUILT_API = SITE / "book" / "api"

sys.path.insert(0, str(ROOT / "book" / "_ext"))
import numpydoc_types  # noqa: E402


def public_modules() -> dict[str, object]:
    modules = {"companion": companion}
    for info in pkgutil.walk_packages(companion.__path__, "companion."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            modules[info.name] = importlib.import_module(info.name)
    return modules


def public_names() -> list[tuple[str, str, str]]:
    """(module, name, canonical dotted name) for every name in a public module's ``__all__``."""
    names = []
    for modname, module in public_modules().items():
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            home = (
                getattr(obj, "__module__", None) if inspect.isclass(obj) or inspect.isfunction(obj) else None
            )
            qualname = getattr(obj, "__qualname__", name) if home else name
            names.append((modname, name, f"{home or modname}.{qualname}"))
    return names


NAMES = public_names()


def directives() -> dict[str, set[str]]:
    """Directive name -> set of targets in book/api/*.md; automodule targets keep their options.

    A ``py:data`` directive counts as ``autodata`` of ``<its :module:>.<name>``.
    """
    found: dict[str, set[str]] = {}
    lines = [line for page in API_PAGES for line in page.read_text().splitlines()]
    for i, line in enumerate(lines):
        match = re.match(r"^\.\. (auto\w+|py:data):: (\S+)\s*$", line.strip())
        if not match:
            continue
        kind, target = match.groups()
        options = []
        for following in lines[i + 1 :]:
            if not following.strip().startswith(":"):
                break
            options.append(following.strip())
        if kind == "automodule" and ":members:" in options:
            kind = "automodule-members"
        if kind == "py:data":
            module = next((o.split(None, 1)[1] for o in options if o.startswith(":module:")), "")
            kind, target = "autodata", f"{module}.{target}" if module else target
        found.setdefault(kind, set()).add(target)
    return found


def test_the_reference_has_several_pages():
    assert (API_DIR / "index.md").is_file() and len(API_PAGES) > 2, f"expected the pages of {API_DIR}"


def test_names_were_found():
    modules = {m for m, _, _ in NAMES}
    assert {"companion.ref.rnn", "companion.diagnostics.gradcheck", "companion.exercises"} <= modules


def test_every_public_name_is_pulled_into_the_api_page():
    found = directives()
    with_members = found.get("automodule-members", set())
    single = set().union(*(found.get(k, set()) for k in ("autofunction", "autoclass", "autodata")))
    missing = []
    for modname, name, canonical in NAMES:
        home = canonical.rsplit(".", 1)[0] if "." in canonical else modname
        if canonical in single or f"{modname}.{name}" in single:
            continue
        if home in with_members or (home == modname and modname in with_members):
            continue
        missing.append(
            f"{modname}.{name} (add `.. automodule:: {home}` with `:members:` to a page of book/api/)"
        )
    assert not missing, "public names the API reference would not document:\n" + "\n".join(missing)


def test_api_page_documents_only_modules_that_exist():
    modules = public_modules()
    for kind, targets in directives().items():
        for target in targets:
            if kind.startswith("automodule"):
                assert target in modules, f"book/api/ documents {target}, which is not a public module"


@pytest.mark.parametrize("modname, name, canonical", NAMES, ids=[f"{m}.{n}" for m, n, _ in NAMES])
def test_public_names_have_documentation(modname, name, canonical):
    """Functions and classes need a docstring, constants a ``#:`` comment (autodoc skips the rest)."""
    obj = getattr(public_modules()[modname], name)
    if inspect.isfunction(obj) or inspect.isclass(obj):
        own = obj.__dict__.get("__doc__") if inspect.isclass(obj) else obj.__doc__
        assert own and own.strip(), f"{canonical} has no docstring of its own"
    elif canonical not in directives().get("autodata", set()):
        comments = ModuleAnalyzer.for_module(modname).find_attr_docs()
        assert ("", name) in comments, f"{canonical} needs a `#:` comment above its assignment"


def built_api_pages() -> dict[str, str]:
    """The built API pages (name -> HTML), if they are newer than everything they are generated from."""
    require = os.environ.get("COURSE_REQUIRE_SITE") == "1"
    sources = [*API_PAGES, *(ROOT / "companion").rglob("*.py")]
    newest = max(p.stat().st_mtime for p in sources)
    built = [BUILT_API / f"{page.stem}.html" for page in API_PAGES]
    if not all(path.is_file() for path in built):
        reason = f"no built API pages in {BUILT_API}: run `make book`"
    elif min(path.stat().st_mtime for path in built) < newest:
        reason = f"the built API pages in {BUILT_API} are older than the package sources: rebuild the book"
    else:
        return {path.name: path.read_text(encoding="utf-8") for path in built}
    if require:
        pytest.fail(reason)
    pytest.skip(reason)


def test_built_api_pages_have_one_entry_for_every_public_name():
    entries: dict[str, list[str]] = {}
    for name, html in built_api_pages().items():
        for ident in set(re.findall(r'<dt[^>]*\bid="([^"]+)"', html)):
            entries.setdefault(ident, []).append(name)
    canonical = {canonical for _, _, canonical in NAMES}
    missing = sorted(canonical - set(entries))
    assert not missing, f"public names without an entry in {BUILT_API}: {missing}"
    twice = {name: pages for name, pages in entries.items() if name in canonical and len(pages) > 1}
    assert not twice, f"public names documented on more than one page: {twice}"


# --------------------------------------------------------------------------------------------------
# book/_ext/numpydoc_types.py

ALIASES = {"ndarray": "numpy.ndarray", "Tensor": "torch.Tensor"}


@pytest.mark.parametrize(
    "spec, rst",
    [
        ("ndarray of shape (N, T, D)", ":class:`ndarray <numpy.ndarray>` of shape (N, T, D)"),
        ("int, optional", ":class:`int`, *optional*"),
        ("float, default 1e-6", ":class:`float`, *default* ``1e-6``"),
        ('str, default ``"_l0"``', ':class:`str`, *default* ``"_l0"``'),
        ("Tensor of shape (4H,) or None", ":class:`Tensor <torch.Tensor>` of shape (4H,) or :class:`None`"),
        ('{"tanh", "relu"}, default "tanh"', '``{"tanh", "relu"}``, *default* ``"tanh"``'),
        ("int or numpy.random.Generator", ":class:`int` or :class:`numpy.random.Generator`"),
        ("RNNCache", ":class:`.RNNCache`"),
        ("ndarray of int64 of shape (L,)", ":class:`ndarray <numpy.ndarray>` of int64 of shape (L,)"),
        ("list of (int, float)", ":class:`list` of (int, float)"),
        ("ndarray of shape (N*T, H)", r":class:`ndarray <numpy.ndarray>` of shape (N\*T, H)"),
        (":class:`RNNCache` or None", ":class:`RNNCache` or None"),
    ],
)
def test_type_specs_become_references_and_text(spec, rst):
    assert numpydoc_types.convert_type(spec, ALIASES) == rst


def test_field_lines_are_converted_and_shared_fields_split():
    lines = [
        "Summary.",
        "",
        "Parameters",
        "----------",
        "x : ndarray of shape (N, D)",
        "    Inputs, with x : y in the description.",
        "",
        "Returns",
        "-------",
        "float",
        "    A number.",
        "",
        "Attributes",
        "----------",
        "bias_ih, bias_hh : Tensor of shape (H,)",
        "    Biases.",
        "",
        "Notes",
        "-----",
        "a : b stays as written outside field sections.",
    ]
    numpydoc_types.convert_docstring(lines, ALIASES)
    assert lines[4] == "x : :class:`ndarray <numpy.ndarray>` of shape (N, D)"
    assert lines[5] == "    Inputs, with x : y in the description."
    assert lines[9] == ":class:`float`"
    assert lines[14:18] == [
        "bias_ih : :class:`Tensor <torch.Tensor>` of shape (H,)",
        "    Biases.",
        "bias_hh : :class:`Tensor <torch.Tensor>` of shape (H,)",
        "    Biases.",
    ]
    assert lines[-1] == "a : b stays as written outside field sections."
