"""Sphinx extension: each script appears once per page.

``sphinx_thebe`` (loaded by Jupyter Book) registers its inline configuration script after the HTML
builder has collected the registered scripts, and the script ends up in every page twice. The
second copy fails with "Identifier 'THEBE_JS_URL' has already been declared", a JavaScript error on
every page of the book (``sphinx_togglebutton``'s selector is doubled the same way, harmlessly).
This hook drops duplicates (same file or inline body and same attributes, whatever their priority)
from each page's script list, keeping the first. It runs before the other handlers (priority 100):
some of them stop the event by returning a template name, and those that add a page's own scripts
(MathJax) add nothing twice.
"""

from __future__ import annotations


def _unique(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not isinstance(scripts, list):
        return
    unique = {}
    for script in scripts:  # an inline script has filename None or "", depending on who added it
        key = (script.filename or "", tuple(sorted(script.attributes.items())))
        unique.setdefault(key, script)
    scripts[:] = unique.values()  # in place: the list is the builder's, handlers after this one add to it


def setup(app):
    app.connect("html-page-context", _unique, priority=100)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
