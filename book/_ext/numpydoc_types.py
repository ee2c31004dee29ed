"""Sphinx extension for the API reference: numpydoc type lines rendered as written, cross-referenced
where they name a class.

The package's docstrings give types the numpydoc way, ``x : ndarray of shape (N, T, D)``. Both ways
that Sphinx and napoleon offer to render such a line turn the shape into class references:
napoleon's ``napoleon_preprocess_types`` splits at every comma (references to ``shape (N``, ``T``
and ``D)``), and without it the Python domain splits the plain text at brackets and commas
(references to ``shape``, ``N``, ``T``, ``D``). Under ``-n`` each is a warning, and silencing them
would also hide real broken references.

This hook runs before napoleon (priority 400 < 500) and rewrites the type part of every field line
in the field sections (Parameters, Returns, Attributes, ...) as reStructuredText:

- a word listed in ``napoleon_type_aliases`` (``ndarray``, ``Tensor``, ``callable``) becomes a
  reference to its qualified target, displayed as written;
- a name that looks like a class, that is a dotted name (``numpy.random.Generator``), a name with a
  capital letter (``RNNCache``, looked up in every module, so a class imported from another module
  links too) or a builtin type (``int``), becomes a ``:class:`` reference: our own classes link and
  a misspelt one warns;
- ``optional`` and ``default ...`` are set in italics and as code, a set of values ``{"a", "b"}`` as
  code, and everything else (``shape (N, T, D)``, ``int64``, ``the same shape``) stays text.

A field naming several entries (``bias_ih, bias_hh : Tensor``) is split into one field per name with
the same type and description, as napoleon does for parameters; otherwise Sphinx would read the first
name as the type of the second.

Set ``napoleon_preprocess_types = False`` with it: the lines arrive already converted.
"""

from __future__ import annotations

import builtins
import re

FIELD_SECTIONS = {
    "parameters",
    "other parameters",
    "keyword arguments",
    "returns",
    "yields",
    "receives",
    "attributes",
    "inputs",
    "outputs",
}
TYPE_ONLY_SECTIONS = {"returns", "yields", "receives", "outputs"}

# Spans that are never split: code, roles, quoted strings and bracketed groups (a shape).
_PROTECTED = r"``.*?``|:[\w:.-]+:`[^`]*`|`[^`]*`|\"[^\"]*\"|'[^']*'|\([^()]*\)|\[[^\[\]]*\]|\{[^{}]*\}"
_DELIMITER = r",\s+|\s+or\s+|\s+of\s+|\s+to\s+|\s+and\s+"
_TOKEN = re.compile(f"({_PROTECTED})|({_DELIMITER})")
_NAME = re.compile(r"~?[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")
_DEFAULT = re.compile(r"default(?:\s*[:=]\s*|\s+)(.+)", re.DOTALL)
_FIELD = re.compile(r"^(\s*)(\S.*?)\s+:\s+(\S.*)$")
_RULE = re.compile(r"^\s*-{3,}\s*$")


def split_type(spec: str) -> list[tuple[str, bool]]:
    """Split a type spec into ``(text, is_delimiter)`` pieces, never inside a protected span."""
    pieces: list[tuple[str, bool]] = []
    current, pos = "", 0
    for match in _TOKEN.finditer(spec):
        current += spec[pos : match.start()]
        if match.group(1) is not None:
            current += match.group(1)
        else:
            pieces.append((current, False))
            pieces.append((match.group(2), True))
            current = ""
        pos = match.end()
    pieces.append((current + spec[pos:], False))
    return [p for p in pieces if p[0]]


def _plain(text: str) -> str:
    return re.sub(r"([*|\\])", r"\\\1", text)


def convert_piece(piece: str, aliases: dict[str, str]) -> str:
    """reStructuredText for one piece of a type spec."""
    text = piece.strip()
    if text == "optional":
        return "*optional*"
    default = _DEFAULT.fullmatch(text)
    if default:
        value = default.group(1).strip()
        return "*default* " + (value if "`" in value else f"``{value}``")
    if text.startswith("{"):
        return f"``{text}``"
    if "`" in text:
        return text  # already reStructuredText
    if text in aliases:
        target = aliases[text]
        return target if target.startswith(":") else f":class:`{text} <{target}>`"
    if _NAME.fullmatch(text):
        if "." in text or text == "None" or isinstance(getattr(builtins, text, None), type):
            return f":class:`{text}`"
        if text != text.lower():
            return f":class:`.{text}`"  # the leading dot searches every documented module
    return _plain(text)


def convert_type(spec: str, aliases: dict[str, str]) -> str:
    """reStructuredText for a whole numpydoc type spec such as ``ndarray of shape (N, H), optional``."""
    if "`" in spec and ":" in spec.split("`", 1)[0]:
        return spec  # written with roles by its author
    return "".join(text if is_delim else convert_piece(text, aliases) for text, is_delim in split_type(spec))


def _entry_end(lines: list[str], start: int, indent: int) -> int:
    """Index just past the description lines that follow the field line at ``start``."""
    end = start + 1
    while end < len(lines) and (
        not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) > indent
    ):
        end += 1
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    return end


def convert_docstring(lines: list[str], aliases: dict[str, str]) -> None:
    """Rewrite, in place, the field lines of the numpydoc field sections (see the module docstring)."""
    out: list[str] = []
    section, indent, i = None, 0, 0
    while i < len(lines):
        line = lines[i]
        if i + 1 < len(lines) and line.strip() and _RULE.match(lines[i + 1]):
            section, indent = line.strip().lower(), len(line) - len(line.lstrip())
            out.extend(lines[i : i + 2])
            i += 2
            continue
        at_field = section in FIELD_SECTIONS and line.strip() and len(line) - len(line.lstrip()) == indent
        if not at_field:
            out.append(line)
            i += 1
            continue
        end = _entry_end(lines, i, indent)
        field = _FIELD.match(line)
        if field:
            lead, names, spec = field.groups()
            spec = convert_type(spec, aliases)
            split = section not in TYPE_ONLY_SECTIONS and "," in names
            for name in [n.strip() for n in names.split(",")] if split else [names]:
                out.append(f"{lead}{name} : {spec}")
                out.extend(lines[i + 1 : end])
        else:
            out.append(
                line[:indent] + convert_type(line.strip(), aliases) if section in TYPE_ONLY_SECTIONS else line
            )
            out.extend(lines[i + 1 : end])
        i = end
    lines[:] = out


def _process(app, what, name, obj, options, lines):
    convert_docstring(lines, dict(app.config.napoleon_type_aliases or {}))


def setup(app):
    app.setup_extension("sphinx.ext.napoleon")
    app.connect("autodoc-process-docstring", _process, priority=400)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
