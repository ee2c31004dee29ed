"""The built book as readers meet it: every page opened in a real browser.

The HTML in ``_build/html`` is served on 127.0.0.1 by the standard library's HTTP server and every
page is opened in headless Chromium (Debian's ``/usr/bin/chromium``, driven by Playwright; never a
downloaded browser). For each page the test asserts that

- no request fails and none leaves 127.0.0.1 (the book works offline: math, fonts, scripts, search);
- the page raises no JavaScript error;
- the local MathJax typeset every equation: one ``mjx-container`` per math element, no TeX error,
  and no raw ``\\(``, ``\\[``, ``$$`` or ``$...\\command...$`` left in the visible text;
- every ``<img>`` loaded with a non-zero natural size;
- every internal link points to a file of the site, and every ``#anchor`` to an id in that file;
- no cell output shows a Python traceback or an error on stderr;

and that the search page finds "forget gate" in a chapter (the LSTM chapter explains it). A full-page
screenshot of every page (the top 12,000 pixels of a longer one) is saved in
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

ROOT = Path(__file__).resolve().parents[1]
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
NOT_PAGES = ("_static", "_sources", "_images", "_sphinx_design_static")
SEARCH_PHRASE = "forget gate"
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

    def __init__(self, browser, base: str, path: str, redirect: str | None = None):
        self.base = base
        self.outside: list[str] = []
        self.failed: list[str] = []
        self.js_errors: list[str] = []
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.page.route("**/*", self._route)
        self.page.on("requestfailed", self._request_failed)
        self.page.on("response", self._response)
        self.page.on("pageerror", lambda err: self.js_errors.append(str(err)))
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
  return images.map(img => ({src: img.currentSrc || img.src, w: img.naturalWidth, h: img.naturalHeight}));
}"""

OUTPUT_ERRORS = """() => {
  const bad = [...document.querySelectorAll('.output.traceback, .output.error, .system-message, .problematic')]
    .map(e => e.className + ': ' + e.textContent.slice(0, 200));
  const stderr = [...document.querySelectorAll('.output.stderr')].map(e => e.textContent);
  return {bad, stderr, text: document.body.textContent};
}"""


def screenshot(page, path: str) -> None:
    """Save the whole page, or its top SCREENSHOT_HEIGHT pixels if it is longer (the API reference)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = min(page.evaluate("document.documentElement.scrollHeight"), SCREENSHOT_HEIGHT)
    clip = {"x": 0, "y": 0, "width": page.viewport_size["width"], "height": height}
    page.screenshot(
        path=SCREENSHOTS / (path.removesuffix(".html").replace("/", "__") + ".png"), full_page=True, clip=clip
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
        hrefs = page.evaluate("() => [...document.querySelectorAll('a[href]')].map(a => a.href)")
        problems += [f"broken link: {b}" for b in broken_links(hrefs, server, site)]
        outputs = page.evaluate(OUTPUT_ERRORS)
        problems += [f"error element: {b}" for b in outputs["bad"]]
        problems += [f"error on stderr: {s[:200]}" for s in outputs["stderr"] if ERROR_TEXT.search(s)]
        if "Traceback (most recent call last)" in outputs["text"]:
            problems.append("a Python traceback is shown on the page")
        screenshot(page, path)
        problems += [f"request failed: {f}" for f in visit.failed]
        problems += [f"request left 127.0.0.1: {u}" for u in visit.outside]
        problems += [f"JavaScript error: {e}" for e in visit.js_errors]
        assert not problems, f"{path}:\n  " + "\n  ".join(problems)
    finally:
        visit.page.close()


def page_text(path: Path) -> str:
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", path.read_text(encoding="utf-8"), flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text)).lower()


def test_search_finds_forget_gate(site, server, browser):
    visit = Visit(browser, server, "search.html?q=" + SEARCH_PHRASE.replace(" ", "+"))
    try:
        visit.page.wait_for_function(
            "() => document.querySelector('#search-results .search-summary, #search-results p')",
            timeout=20000,
        )
        hrefs = visit.page.evaluate(
            "() => [...document.querySelectorAll('#search-results li a')].map(a => a.href)"
        )
        assert not visit.failed and not visit.outside and not visit.js_errors
    finally:
        visit.page.close()
    pages = {unquote(urlsplit(h).path.lstrip("/")) for h in hrefs if h.startswith(server)}
    chapters = {f"book/{nb.stem}.html" for nb in (ROOT / "book").glob("*.ipynb")}
    found = [p for p in sorted(pages & chapters) if SEARCH_PHRASE in page_text(site / p)]
    assert found, (
        f"searching for {SEARCH_PHRASE!r} found no chapter that contains the phrase (results: "
        f"{sorted(pages) or 'none'}); the LSTM chapter explains the forget gate"
    )


def test_every_chapter_in_the_toc_was_built(site):
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [c["file"] for c in part["chapters"]]
    missing = [f for f in files if not (site / f"{f}.html").is_file()]
    assert not missing, f"chapters listed in _toc.yml without a page in {site}: {missing}"
