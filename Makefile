# The course's two commands: `make book` and `make test`. Everything runs inside .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: book test lab install lint unit notebooks book-strict browser site bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## make book: execute every notebook and build the HTML book into _build/html
book: install
	$(BIN)/jupyter-book build --all .
	@echo "The book is at _build/html/index.html"

## make test: lint, package tests, every notebook under nbval, strict book build, the built book in a browser
test: install lint unit notebooks book-strict site

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The browser test needs the built book: it runs in `site`, after `book-strict`.
unit: install
	$(BIN)/pytest tests --ignore=tests/test_site.py

notebooks: install
	$(BIN)/pytest --nbval-lax --nbval-current-env -p no:cacheprovider book

book-strict: install
	$(BIN)/jupyter-book build -W -n --keep-going --all .

## make browser: Debian's Chromium for the browser test, installed if missing and we may (root, apt-get)
CHROMIUM := /usr/bin/chromium
browser:
	@if [ -x $(CHROMIUM) ]; then \
	  echo "browser: using $(CHROMIUM)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "browser: installing Debian's chromium with apt-get"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
	  echo "browser: $(CHROMIUM) is missing and cannot be installed here (that needs root and apt-get);"; \
	  echo "browser: tests/test_site.py will be skipped. Install Debian's chromium to run it."; \
	fi

## make site: open every page of the built book (_build/html) in headless Chromium; check the API reference
site: install browser
	COURSE_REQUIRE_SITE=1 $(BIN)/pytest -p no:cacheprovider tests/test_site.py tests/test_api_docs.py

## make lab: JupyterLab on book/ with the package importable
# (Jupyter refuses to run as root without --allow-root: containers and CI machines often are root.)
lab: install
	$(BIN)/jupyter lab --notebook-dir=book $(if $(filter 0,$(shell id -u)),--allow-root)

## make bench: time companion's layers against torch.nn side by side (not part of `make test`)
bench: install
	$(BIN)/python benchmarks/bench_layers.py

clean:
	rm -rf _build .pytest_cache
