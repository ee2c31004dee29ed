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

# Each notebook is executed once, by nbval. With --nbval-record (tests/nbval_record.py) every notebook
# whose cells all pass is written, with the outputs nbval got, to $(EXECUTED)/<path>. Both builds copy
# the book's sources to $(STAGED) with each notebook replaced by that record (marked
# `mystnb: execution_mode: off`) and build the copy into _build/html: no build executes a notebook.
EXECUTED  := _build/executed
STAGED    := _build/staged
BOOK_SRC  := _config.yml _toc.yml book benchmarks/results.md benchmarks/notebook_times.md
NOTEBOOKS := $(shell find book -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*' | sort)
RECORDS   := $(NOTEBOOKS:%=$(EXECUTED)/%)
# What a notebook's outputs depend on besides its own file: the package, the kernel set-up, the venv.
NB_INPUTS := $(shell find companion -type f -not -path '*/__pycache__/*' -not -name '*.pyc') \
             conftest.py tests/netguard.py tests/nbval_record.py $(STAMP)
# --nbval-cell-timeout: the limit per cell that _config.yml sets for a plain `jupyter-book build .`.
NBVAL     := $(BIN)/pytest --nbval-lax --nbval-current-env --nbval-cell-timeout=180 -p no:cacheprovider \
             --nbval-record=$(EXECUTED)
STAGE     := $(BIN)/python tests/nbval_record.py --records $(EXECUTED) --out $(STAGED) $(BOOK_SRC) \
             && $(BIN)/python benchmarks/notebook_times.py $(EXECUTED)/book --out $(STAGED)/benchmarks/notebook_times.md
BUILD     := $(BIN)/jupyter-book build --all --path-output .

## make book: execute the notebooks (only those changed, or all after a change in companion/) and
## build the HTML book into _build/html
book: install $(RECORDS)
	$(STAGE)
	$(BUILD) $(STAGED)
	@echo "The book is at _build/html/index.html"

# One notebook's record, remade when the notebook or anything it depends on is newer.
$(EXECUTED)/%.ipynb: %.ipynb $(NB_INPUTS)
	$(NBVAL) $<

## make test: lint, package tests, every notebook under nbval, strict book build, the built book in a browser
test: install lint unit notebooks book-strict site

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The browser test needs the built book: it runs in `site`, after `book-strict`.
unit: install
	$(BIN)/pytest tests --ignore=tests/test_site.py

# Every notebook under nbval, always: this is the notebook test, and it writes the records.
notebooks: install
	$(NBVAL) book

# The book as built from the records (a record missing or older than its inputs is executed first).
book-strict: install $(RECORDS)
	$(STAGE)
	$(BUILD) -W -n --keep-going $(STAGED)

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
