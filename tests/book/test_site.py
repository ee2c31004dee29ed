"""The built book as readers meet it: every page opened in a real browser.

The HTML in ``_build/html`` is served on 127.0.0.1 by the standard library's HTTP server and every
page is opened in headless Chromium (Debian's ``/usr/bin/chromium``, driven by Playwright; never a
downloaded browser). For each page the test asserts that

- no request fails and none leaves 127.0.0.1 (the book works offline: math, fonts, scripts, search);
- the page raises no JavaScript error and logs no console error (a theme error, a 404 such as a
  missing favicon); the page names a favicon that loads;
- the local MathJax typeset every equation: one ``mjx-container`` per math element, no TeX error,
  and no raw ``\\(``, ``\\[``, ``$$`` or ``$...\\command...$`` left in the visible text;
- every ``<img>`` loaded with a non-zero natural size and has alt text that is not a file path;
- no cell output shows a Markdown table as text (a paragraph starting with ``|``);
- no display equation or table runs past the text column: one that is wider sits in a container
  that scrolls sideways and shows a shadow on the side where it continues;
- every internal link points to a file of the site, and every ``#anchor`` to an id in that file;
- no cell output shows a Python traceback or an error on stderr;

Pages open at 1366x900; the chapters and the notation page open again at a phone's 390x844 with the
same checks of equations and tables. Across the site the tests check that tapping the menu button (☰)
on a phone opens the book's contents and that it hides and shows them on a desktop; that there is one
search box; that a search for "forget gate" finds a chapter and a search for "LSTM" lists the LSTM
chapter among the first three results; that the chapters, their sections and their labelled
equations are numbered ((5.3) is chapter 5's third); that the API reference is split into pages of
readable length; and that the references list only cited entries, labelled as the text cites them.
A full-page screenshot of every page at both sizes (the top 12,000 pixels of a longer one) is saved in
``_build/screenshots/`` for inspection.

``make test`` runs this after the strict build (``make site``). Environment variables:

``COURSE_SITE_DIR``
    the built HTML to test (default ``_build/html``); screenshots go to ``<its parent>/screenshots``.
``COURSE_REQUIRE_SITE``
    set to 1 (``make site`` does) to make a missing build an error instead of a skip: run on its
    own, before any build, the test skips with the reason; inside ``make test`` the build must exist.

The test skips, saying why, only where Chromium is not installed at ``/usr/bin/chromium``.
"""

from __future__ import annotations

import functools
import os
import re
import threading
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SITE = Path(os.environ.get("COURSE_SITE_DIR", ROOT / "_build" / "html")).resolve()
SCREENSHOTS = SITE.parent / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
NOT_PAGES = ("_static", "_sources", "_images", "_sphinx_design_static", "_modules")  # _modules: source
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
SEARCH_PHRASE = "forget gate"
API_SCREENS = 40  # the longest API page, in screens of 900 pixels at 1366 (the single page had 98)
SCREENSHOT_HEIGHT = 12000  # pixels; a screenshot of a longer page shows its top
RAW_TEX = re.compile(r"\\\(|\\\[|\$\$|\$[^$\n]*\\[A-Za-z]+[^$\n]*\$")
ERROR_TEXT = re.compile(r"Traceback \(most recent call last\)|\b[A-Z]\w*(Error|Exception)\b")

if not CHROMIUM.exists():
    pytest.skip(
        f"the browser test needs Debian's Chromium at {CHROMIUM}, which is not installed "
        "(`apt-get install chromium`, or `make browser` as root)",
        allow_module_level=True,
    )


def site_pages() -> list[str]:
    if not SITE.is_dir():
        return []
    pages = [p.relative_to(SITE).as_posix() for p in SITE.rglob("*.html")]
    return sorted(p for p in pages if not p.startswith(NOT_PAGES))


PAGES = site_pages()


@pytest.fixture(scope="session")
def site() -> Path:
    if (SITE / "index.html").is_file():
        return SITE
    message = f"no built book at {SITE}: run `make book` (or `make test`, which builds it first)"
    if os.environ.get("COURSE_REQUIRE_SITE") == "1":
        pytest.fail(message)
    pytest.skip(message)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # the server stays quiet during the test
        pass


@pytest.fixture(scope="session")
def server(site):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="session")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True)
        yield chromium
        chromium.close()


class Visit:
    """One page opened in the browser, with everything that happened on the way."""

    def __init__(self, browser, base: str, path: str, redirect: str | None = None, viewport=DESKTOP):
        self.base = base
        self.outside: list[str] = []
        self.failed: list[str] = []
        self.js_errors: list[str] = []
        self.console_errors: list[str] = []
        self.page = browser.new_page(viewport=viewport)
        self.page.route("**/*", self._route)
        self.page.on("requestfailed", self._request_failed)
        self.page.on("response", self._response)
        self.page.on("pageerror", lambda err: self.js_errors.append(str(err)))
        self.page.on("console", lambda m: m.type == "error" and self.console_errors.append(m.text))
        self.page.goto(base + path, wait_until="load")
        if redirect:  # a page that only forwards to another, such as index.html
            self.page.wait_for_url(urljoin(base + path, redirect))
            self.page.wait_for_load_state("load")

    def _route(self, route):
        if route.request.url.startswith(self.base):
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort()

    def _request_failed(self, request):
        if request.url.startswith(self.base):
            self.failed.append(f"{request.url} ({request.failure})")

    def _response(self, response):
        if response.status >= 400:
            self.failed.append(f"{response.url} (HTTP {response.status})")

    def problems(self) -> list[str]:
        return (
            [f"request failed: {f}" for f in self.failed]
            + [f"request left 127.0.0.1: {u}" for u in self.outside]
            + [f"JavaScript error: {e}" for e in self.js_errors]
            + [f"console error: {e}" for e in self.console_errors]
        )


REFRESH = re.compile(r'<meta[^>]+http-equiv="refresh"[^>]+url=([^"]+)"', re.I)


def redirect_of(path: Path) -> str | None:
    """Where a page that only forwards the reader (a meta refresh) sends them, or None."""
    match = REFRESH.search(path.read_text(encoding="utf-8"))
    return match.group(1).strip() if match else None


class _Anchors(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if key == "id" or (tag == "a" and key == "name"):
                self.ids.add(value)


@functools.cache
def anchors(path: Path) -> frozenset[str]:
    parser = _Anchors()
    parser.feed(path.read_text(encoding="utf-8"))
    return frozenset(parser.ids)


def broken_links(hrefs: list[str], base: str, site: Path) -> list[str]:
    broken = []
    for href in sorted(set(hrefs)):
        if not href.startswith(base):
            continue  # launch buttons, the repository, papers: not part of the offline site
        parts = urlsplit(href)
        target = site / unquote(parts.path).lstrip("/")
        if parts.path.endswith("/"):
            target = target / "index.html"
        if not target.is_file():
            broken.append(f"{href} (no file {target.relative_to(site)})")
        elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in anchors(target):
            broken.append(f"{href} (no id {unquote(parts.fragment)!r} in {target.relative_to(site)})")
    return broken


TYPESET = """async () => {
  const maths = document.querySelectorAll('.math');
  if (maths.length === 0) return {maths: 0, containers: 0, errors: 0, mathjax: false};
  if (!(window.MathJax && MathJax.startup && MathJax.startup.promise)) {
    return {maths: maths.length, containers: 0, errors: 0, mathjax: false};
  }
  await MathJax.startup.promise;
  return {
    maths: maths.length,
    containers: document.querySelectorAll('mjx-container').length,
    errors: document.querySelectorAll('mjx-merror, .MathJax_Error').length,
    mathjax: true,
  };
}"""

VISIBLE_TEXT = """() => {
  const copy = document.body.cloneNode(true);
  copy.querySelectorAll('pre, code, script, style, mjx-container, .highlight, dialog')
      .forEach(e => e.remove());
  return copy.textContent;
}"""

IMAGES = """async () => {
  const images = [...document.images];
  images.forEach(img => { img.loading = 'eager'; });
  const settled = img => img.complete ? Promise.resolve() : new Promise(done => {
    img.addEventListener('load', done); img.addEventListener('error', done); setTimeout(done, 10000);
  });
  await Promise.all(images.map(settled));
  return images.map(img => ({src: img.currentSrc || img.src, w: img.naturalWidth, h: img.naturalHeight,
                             alt: img.getAttribute('alt') || ''}));
}"""
PATH_LIKE = re.compile(r"(^|/)[^\s/]+\.(png|svg|jpe?g|gif|webp)$|^\.{0,2}/|_images/", re.I)

# Display equations and tables that run past the text column, or scroll with no cue that they do.
OVERFLOW = """() => {
  const column = document.querySelector('article.bd-article') || document.body;
  const edge = column.getBoundingClientRect();
  const bad = [];
  const scrolls = e => /auto|scroll/.test(getComputedStyle(e).overflowX);
  for (const el of column.querySelectorAll('mjx-container[display="true"], table')) {
    if (!el.getClientRects().length) continue;  // hidden (a collapsed cell)
    const name = el.tagName === 'TABLE' ? 'table' : 'equation';
    const text = (el.textContent || '').trim().replace(/\\s+/g, ' ').slice(0, 50);
    let box = el;
    while (box !== column && !scrolls(box)) box = box.parentElement;
    if (box === column) box = el;
    const r = box.getBoundingClientRect();
    if (r.right > edge.right + 1 || r.left < edge.left - 1) {
      bad.push(`${name} wider than the column (${Math.round(r.width)} > ${Math.round(edge.width)} px) ` +
               `with no scroll container: ${text}`);
    } else if (box.scrollWidth > box.clientWidth + 1 && getComputedStyle(box).backgroundImage === 'none') {
      bad.push(`${name} scrolls with no visible cue that it continues: ${text}`);
    }
  }
  return bad;
}"""

# Code cells and printed outputs that scroll sideways inside the text column.
CODE_SCROLLS = """() => [...document.querySelectorAll('div.cell pre')]
  .filter(pre => pre.getClientRects().length && pre.scrollWidth > pre.clientWidth + 1)
  .map(pre => pre.textContent.trim().split('\\n')[0].slice(0, 60))"""

# Inline code in the prose that runs past the right edge of the text column (at a phone's width).
INLINE_OVERFLOW = """() => {
  const column = document.querySelector('article.bd-article') || document.body;
  const right = column.getBoundingClientRect().right;
  return [...column.querySelectorAll('p code, li code, dd code')]
    .filter(c => !c.closest('pre, table, mjx-container') && c.getClientRects().length)
    .filter(c => [...c.getClientRects()].some(r => r.right > right + 4))
    .map(c => c.textContent.trim().slice(0, 60));
}"""

RAW_TABLES = """() => [...document.querySelectorAll('.cell_output p, .output p')]
  .map(p => p.textContent.trim()).filter(t => t.startsWith('|')).map(t => t.slice(0, 80))"""

FAVICON = """async () => {
  const link = document.querySelector('link[rel~="icon"]');
  if (!link) return 'no <link rel="icon">';
  const response = await fetch(link.href);
  return response.ok ? null : `favicon ${link.href}: HTTP ${response.status}`;
}"""

OUTPUT_ERRORS = """() => {
  const bad = [...document.querySelectorAll('.output.traceback, .output.error, .system-message, .problematic')]
    .map(e => e.className + ': ' + e.textContent.slice(0, 200));
  const stderr = [...document.querySelectorAll('.output.stderr')].map(e => e.textContent);
  return {bad, stderr, text: document.body.textContent};
}"""


def screenshot(page, path: str) -> None:
    """Save the whole page, or its top SCREENSHOT_HEIGHT pixels if it is longer, as NAME-WIDTH.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = min(page.evaluate("document.documentElement.scrollHeight"), SCREENSHOT_HEIGHT)
    width = page.viewport_size["width"]
    name = f"{path.removesuffix('.html').replace('/', '__')}-{width}.png"
    page.screenshot(
        path=SCREENSHOTS / name, full_page=True, clip={"x": 0, "y": 0, "width": width, "height": height}
    )


@pytest.mark.parametrize("path", PAGES or ["index.html"])
def test_page(path, site, server, browser):
    visit = Visit(browser, server, path, redirect_of(site / path))
    try:
        page, problems = visit.page, []
        maths = page.evaluate(TYPESET)
        if maths["maths"]:
            if not maths["mathjax"]:
                problems.append(f"{maths['maths']} math elements but MathJax did not load")
            elif maths["containers"] < maths["maths"]:
                problems.append(f"only {maths['containers']} of {maths['maths']} math elements were typeset")
            if maths["errors"]:
                problems.append(f"{maths['errors']} equations failed to typeset (TeX error)")
        raw = sorted({m.group(0)[:60] for m in RAW_TEX.finditer(page.evaluate(VISIBLE_TEXT))})
        if raw:
            problems.append(f"raw TeX in the visible text: {raw}")
        for img in page.evaluate(IMAGES):
            if not (img["w"] > 0 and img["h"] > 0):
                problems.append(f"image not loaded: {img['src']}")
            if not img["alt"].strip() or PATH_LIKE.search(img["alt"].strip()):
                problems.append(f"image without alt text (alt={img['alt']!r}): {img['src']}")
        problems += [f"Markdown table shown as text: {t}" for t in page.evaluate(RAW_TABLES)]
        problems += page.evaluate(OVERFLOW)
        problems += [f"code block scrolls sideways: {t}" for t in page.evaluate(CODE_SCROLLS)]
        favicon = page.evaluate(FAVICON)
        problems += [favicon] if favicon else []
        hrefs = page.evaluate("() => [...document.querySelectorAll('a[href]')].map(a => a.href)")
        problems += [f"broken link: {b}" for b in broken_links(hrefs, server, site)]
        outputs = page.evaluate(OUTPUT_ERRORS)
        problems += [f"error element: {b}" for b in outputs["bad"]]
        problems += [f"error on stderr: {s[:200]}" for s in outputs["stderr"] if ERROR_TEXT.search(s)]
        if "Traceback (most recent call last)" in outputs["text"]:
            problems.append("a Python traceback is shown on the page")
        screenshot(page, path)
        problems += visit.problems()
        assert not problems, f"{path}:\n  " + "\n  ".join(problems)
    finally:
        visit.page.close()


def toc_files() -> list[tuple[str, bool]]:
    """(file, numbered) for every entry of _toc.yml, in order, sections included."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())

    def walk(entries, numbered):
        for entry in entries:
            yield entry["file"], numbered
            yield from walk(entry.get("sections", []), numbered)

    files = [(toc["root"], False)]
    for part in toc.get("parts", []):
        files += walk(part["chapters"], bool(part.get("numbered")))
    return files


CHAPTERS = [f"{f}.html" for f, numbered in toc_files() if numbered]
PHONE_PAGES = [p for p in PAGES if p in CHAPTERS or p == "book/notation.html"]


@pytest.mark.parametrize("path", PHONE_PAGES or ["book/notation.html"])
def test_page_on_a_phone(path, site, server, browser):
    """At 390x844 equations and tables scroll, with a cue, rather than being cut off; long names wrap."""
    visit = Visit(browser, server, path, viewport=PHONE)
    try:
        visit.page.evaluate(TYPESET)
        problems = visit.page.evaluate(OVERFLOW) + visit.problems()
        problems += [f"inline code runs past the column: {t}" for t in visit.page.evaluate(INLINE_OVERFLOW)]
        screenshot(visit.page, path)
        assert not problems, f"{path} at 390x844:\n  " + "\n  ".join(problems)
    finally:
        visit.page.close()


# A link of the book's contents (the primary sidebar) that a reader can tap: inside the viewport and
# not covered by anything else.
CONTENTS_TAPPABLE = """(selector) => [...document.querySelectorAll(selector)].some(a => {
  const r = a.getBoundingClientRect();
  if (r.width === 0 || r.bottom < 0 || r.top > innerHeight || r.right < 0 || r.left > innerWidth) return false;
  const hit = document.elementFromPoint(r.left + Math.min(r.width / 2, 20), r.top + r.height / 2);
  return hit !== null && (hit === a || a.contains(hit));
})"""
BOOK_CONTENTS = "nav.bd-links a.reference, nav.bd-docs-nav a.reference"
PAGE_CONTENTS = "nav.bd-toc-nav a.nav-link, .bd-sidebar-secondary a.nav-link"


def chapter_page(site) -> str:
    return next((p for p in CHAPTERS if (site / p).is_file()), "book/intro.html")


def test_menu_opens_the_book_contents_on_a_phone(site, server, browser):
    visit = Visit(browser, server, chapter_page(site), viewport=PHONE)
    page = visit.page
    try:
        assert not page.evaluate(CONTENTS_TAPPABLE, BOOK_CONTENTS), (
            "the book contents show before ☰ is tapped"
        )
        page.locator(".primary-toggle:visible").first.click()
        page.wait_for_timeout(600)  # the drawer slides in
        assert page.evaluate(CONTENTS_TAPPABLE, BOOK_CONTENTS), (
            "tapping ☰ at 390x844 did not open the contents"
        )
        page.keyboard.press("Escape")
        page.wait_for_timeout(400)
        page.locator(".secondary-toggle:visible").first.click()
        page.wait_for_timeout(600)
        assert page.evaluate(CONTENTS_TAPPABLE, PAGE_CONTENTS), "the page-contents button opened nothing"
        assert not visit.problems(), visit.problems()
    finally:
        page.close()


def test_menu_hides_and_shows_the_book_contents_on_a_desktop(site, server, browser):
    visit = Visit(browser, server, chapter_page(site), viewport=DESKTOP)
    page = visit.page
    try:
        shown = [page.evaluate(CONTENTS_TAPPABLE, BOOK_CONTENTS)]
        for _ in range(2):
            page.locator(".primary-toggle:visible").first.click()
            page.wait_for_timeout(600)
            shown.append(page.evaluate(CONTENTS_TAPPABLE, BOOK_CONTENTS))
        assert shown == [True, False, True], f"book contents visible before/after each click of ☰: {shown}"
        assert not visit.problems(), visit.problems()
    finally:
        page.close()


SEARCH_BOXES = """() => [...document.querySelectorAll('.search-button-field, input[type="search"], .search-button')]
  .filter(e => e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden').length"""


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_one_search_box(viewport, site, server, browser):
    visit = Visit(browser, server, chapter_page(site), viewport=viewport)
    try:
        assert visit.page.evaluate(SEARCH_BOXES) == 1, "expected one search box or button on the page"
    finally:
        visit.page.close()


def page_text(path: Path) -> str:
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", path.read_text(encoding="utf-8"), flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text)).lower()


def search(browser, server, query: str, snippets: list[str] | None = None) -> list[str]:
    """The pages the search page lists for ``query``, in its order (one entry per result).

    The text of the results' snippets is appended to ``snippets`` if one is given.
    """
    visit = Visit(browser, server, "search.html?q=" + query.replace(" ", "+"))
    try:
        visit.page.wait_for_function(  # the summary is written once every result is listed
            "() => document.querySelector('#search-results .search-summary')?.textContent.trim()",
            timeout=20000,
        )
        hrefs = visit.page.evaluate(
            "() => [...document.querySelectorAll('#search-results li > a')].map(a => a.href)"
        )
        if snippets is not None:
            snippets += visit.page.evaluate(
                "() => [...document.querySelectorAll('#search-results li p.context')].map(p => p.textContent)"
            )
        assert not visit.problems(), visit.problems()
    finally:
        visit.page.close()
    return [unquote(urlsplit(h).path.lstrip("/")) for h in hrefs if h.startswith(server)]


def test_search_lists_the_lstm_chapter_among_the_first_three(site, server, browser):
    snippets: list[str] = []
    results = search(browser, server, "LSTM", snippets)
    assert "book/05-lstm.html" in results[:3], f"searching 'LSTM': first results {results[:6]}"
    raw = sorted({m.group(0)[:60] for s in snippets for m in RAW_TEX.finditer(s)})
    assert snippets and not raw, f"search snippets show raw TeX: {raw}"


def test_search_finds_forget_gate(site, server, browser):
    pages = set(search(browser, server, SEARCH_PHRASE))
    chapters = {f"book/{nb.stem}.html" for nb in (ROOT / "book").glob("*.ipynb")}
    found = [p for p in sorted(pages & chapters) if SEARCH_PHRASE in page_text(site / p)]
    assert found, (
        f"searching for {SEARCH_PHRASE!r} found no chapter that contains the phrase (results: "
        f"{sorted(pages) or 'none'}); the LSTM chapter explains the forget gate"
    )


def test_every_chapter_in_the_toc_was_built(site):
    missing = [f for f, _ in toc_files() if not (site / f"{f}.html").is_file()]
    assert not missing, f"chapters listed in _toc.yml without a page in {site}: {missing}"


def test_chapters_sections_and_equations_are_numbered(site):
    assert CHAPTERS, "_toc.yml numbers no part (`numbered: true`)"
    for number, path in enumerate(CHAPTERS, start=1):
        html = (site / path).read_text(encoding="utf-8")
        assert f'<h1><span class="section-number">{number}. </span>' in html, (
            f"{path}: title not numbered {number}"
        )
        sections = re.findall(r'<h2><span class="section-number">(\d+)\.(\d+)\. </span>', html)
        assert sections and {int(c) for c, _ in sections} == {number}, (
            f"{path}: sections not numbered {number}.n"
        )
        eqnos = re.findall(r'<span class="eqno">\(([^)]*)\)', html)
        wrong = [e for e in eqnos if not re.fullmatch(rf"{number}\.\d+", e)]
        assert not wrong, f"{path}: equation numbers {wrong} are not of the form ({number}.n)"


API_PAGES = [f"{f}.html" for f, _ in toc_files() if f.startswith("book/api")]


def test_api_reference_is_split_into_readable_pages(site, server, browser):
    assert len(API_PAGES) > 1, "the API reference is one page"
    page = browser.new_page(viewport=DESKTOP)
    try:
        for path in API_PAGES:
            assert (site / path).is_file(), f"no API page {path} in {site}"
            page.goto(server + path, wait_until="load")
            screens = page.evaluate("document.documentElement.scrollHeight") / DESKTOP["height"]
            assert screens <= API_SCREENS, f"{path} is {screens:.0f} screens long (at most {API_SCREENS})"
            if path.endswith("api/index.html"):
                entry = page.evaluate(
                    "() => document.getElementById('companion.__version__')?.parentElement.textContent"
                )
                assert entry and "str(object=" not in entry, f"__version__ shows str's docstring: {entry!r}"
        assert page.locator("a:has(span.viewcode-link)").count() > 0, "the API pages link to no source"
    finally:
        page.close()


CITATION = re.compile(
    r'<div class="citation" id="([^"]+)"[^>]*>\s*<span class="label">(.*?)</span>\s*</span>', re.S
)
AUTHOR_YEAR = re.compile(r"[^\W\d][\w' -]*( and [^\W\d][\w' -]*| et al\.)?, \d{4}[a-z]?")


def test_references_are_cited_and_labelled_as_cited(site):
    html = (site / "book" / "references.html").read_text(encoding="utf-8")
    entries = {i: re.sub(r"<[^>]+>", "", label).strip("[]") for i, label in CITATION.findall(html)}
    assert entries, "the references page lists no entry"
    cited: dict[str, set[str]] = {}
    for page in CHAPTERS + ["book/notation.html"]:
        for target, text in re.findall(
            r'href="references\.html#([^"]+)"[^>]*>(.*?)</a>', (site / page).read_text()
        ):
            cited.setdefault(target, set()).add(re.sub(r"<[^>]+>", "", text))
    problems = [f"[{label}] is cited by no chapter" for i, label in entries.items() if i not in cited]
    problems += [
        f"[{label}] is not an author-year label"
        for label in entries.values()
        if not AUTHOR_YEAR.fullmatch(label)
    ]
    problems += [
        f"[{entries[i]}] is cited as {sorted(texts)}"
        for i, texts in cited.items()
        if i in entries and texts != {entries[i]}
    ]
    assert not problems, "references page:\n  " + "\n  ".join(problems)
