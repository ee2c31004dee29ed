# The course's two commands: `make book` and `make test`. Everything runs inside .venv.
# A bare `make` lists the targets (`make help`).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.DEFAULT_GOAL := help
.PHONY: help book test lab install lint unit notebooks book-strict browser site bench clean

## make help: the targets, one line each (what a bare `make` prints)
help:
	@echo "make book         execute the notebooks that changed and build the HTML book into _build/html"
	@echo "make test         lint, package tests, every notebook under nbval, strict book build, browser check"
	@echo "make lab          JupyterLab on book/ with the companion package importable"
	@echo "make install      create .venv with the versions pinned in constraints.txt (TORCH=cpu|cuda, PYTHON=...)"
	@echo "make lint         ruff check and ruff format --check"
	@echo "make unit         the package tests (pytest tests/, without the browser test)"
	@echo "make notebooks    every notebook under nbval, recording what ran in _build/executed"
	@echo "make book-strict  the book built from those records with warnings as errors"
	@echo "make browser      find Debian's Chromium for the browser test, or install it (root, apt-get)"
	@echo "make site         open every page of the built book in headless Chromium"
	@echo "make bench        time companion's layers against torch.nn (not part of make test)"
	@echo "make clean        remove _build and .pytest_cache (.venv stays)"
	@echo "make help         this list"

# Python: the versions constraints.txt resolves on (tests/book/test_install.py asks pip's resolver).
PYTHON_MIN := 3.11
PYTHON_MAX := 3.14
comma := ,
PYTHON_CHECK := import sys; v = sys.version_info[:2]; \
  (($(subst .,$(comma),$(PYTHON_MIN))) <= v <= ($(subst .,$(comma),$(PYTHON_MAX)))) or sys.exit( \
  "install: $(PYTHON) is Python %d.%d; the course needs Python $(PYTHON_MIN) to $(PYTHON_MAX): " \
  "pick one with make install PYTHON=python$(PYTHON_MIN) (or a path to it)" % v)

# PyTorch: constraints.txt pins the version, TORCH chooses the build.
#   TORCH=cpu  (default) the CPU build from PyTorch's CPU wheel index, TORCH_INDEX. A wheel that pip
#              finds without any index (its find-links) is taken first, and macOS takes PyPI's wheel,
#              which is a CPU build there.
#   TORCH=cuda PyPI's wheel: on Linux the CUDA build, with NVIDIA's libraries.
TORCH         ?= cpu
TORCH_INDEX   ?= https://download.pytorch.org/whl/cpu
TORCH_VERSION := $(shell sed -n 's/^torch==\([^ ;]*\).*/\1/p' constraints.txt)
PIP_VERSION   := $(shell sed -n 's/^pip==\([^ ;]*\).*/\1/p' constraints.txt)
ifeq ($(TORCH)-$(shell uname -s),cpu-Darwin)
  TORCH_FROM := pypi
  TORCH_WHAT := PyTorch $(TORCH_VERSION) from PyPI, a CPU build on macOS (about 110 MB to download)
else ifeq ($(TORCH),cpu)
  TORCH_FROM := cpu-index
  TORCH_WHAT := PyTorch $(TORCH_VERSION), CPU build (about 190 MB to download, 750 MB installed)
else
  TORCH_FROM := pypi
  TORCH_WHAT := PyTorch $(TORCH_VERSION) from PyPI: on Linux the CUDA build (about 2.7 GB to download)
endif

# The checks come first, so that a wrong interpreter or option stops here with one sentence.
$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "install: $(PYTHON) not found; the course needs" \
	  "Python $(PYTHON_MIN) to $(PYTHON_MAX): pick one with make install PYTHON=python$(PYTHON_MIN)" >&2; exit 1; }
	@$(PYTHON) -c '$(PYTHON_CHECK)'
	@case "$(TORCH)" in cpu|cuda) ;; *) echo "install: TORCH=$(TORCH) is not a choice; use" \
	  "TORCH=cpu (the default) or TORCH=cuda" >&2; exit 1;; esac
	$(PYTHON) -m venv $(VENV)
	@echo "install [1/3]: pip $(PIP_VERSION) into $(VENV) (2 MB)"
	$(BIN)/python -m pip install -c constraints.txt pip
	@echo "install [2/3]: $(TORCH_WHAT)"
ifeq ($(TORCH_FROM),cpu-index)
	@if $(BIN)/pip install --quiet --no-deps --no-index "torch==$(TORCH_VERSION)+cpu" 2>/dev/null; then \
	  echo "install: torch $(TORCH_VERSION)+cpu found without an index (pip's find-links)"; \
	else \
	  echo "$(BIN)/pip install --no-deps --extra-index-url $(TORCH_INDEX) torch==$(TORCH_VERSION)+cpu"; \
	  $(BIN)/pip install --no-deps --extra-index-url $(TORCH_INDEX) "torch==$(TORCH_VERSION)+cpu"; \
	fi
else
	$(BIN)/pip install -c constraints.txt torch
endif
	@echo "install [3/3]: the companion package and everything the book and its tests use, at the versions"
	@echo "  of constraints.txt: numpy, matplotlib, JupyterLab, Jupyter Book, pytest, ruff, Playwright and"
	@echo "  their dependencies (about 165 packages, about 200 MB to download)"
	$(BIN)/pip install -c constraints.txt -e ".[dev]"
	@touch $(STAMP)
	@echo "install: done; $(VENV) holds $$(du -sh $(VENV) | cut -f1)"

## make install: create .venv and install the pinned versions (TORCH=cpu|cuda, PYTHON=python3.x)
install: $(STAMP)

# Each notebook is executed once, by nbval. With --nbval-record (tests/plugins/nbval_record.py) every notebook
# whose cells all pass is written, with the outputs nbval got, to $(EXECUTED)/<path>. Both builds copy
# the book's sources to $(STAGED) with each notebook replaced by that record (marked
# `mystnb: execution_mode: off`) and build the copy into _build/html: no build executes a notebook.
EXECUTED  := _build/executed
STAGED    := _build/staged
BOOK_SRC  := _config.yml _toc.yml book benchmarks/results.md benchmarks/notebook_times.md benchmarks/lm_seeds.md
NOTEBOOKS := $(shell find book -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*' | sort)
RECORDS   := $(NOTEBOOKS:%=$(EXECUTED)/%)
# What a notebook's outputs depend on besides its own file: the package, the kernel set-up, the venv.
NB_INPUTS := $(shell find companion -type f -not -path '*/__pycache__/*' -not -name '*.pyc') \
             conftest.py tests/plugins/netguard.py tests/plugins/nbval_record.py $(STAMP)
# --nbval-cell-timeout: the limit per cell that _config.yml sets for a plain `jupyter-book build .`.
NBVAL     := $(BIN)/pytest --nbval-lax --nbval-current-env --nbval-cell-timeout=180 -p no:cacheprovider \
             --nbval-record=$(EXECUTED)
STAGE     := $(BIN)/python tests/plugins/nbval_record.py --records $(EXECUTED) --out $(STAGED) $(BOOK_SRC) \
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
	$(BIN)/pytest tests --ignore=tests/book/test_site.py

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
	  echo "browser: tests/book/test_site.py will be skipped. Install Debian's chromium to run it."; \
	fi

## make site: open every page of the built book (_build/html) in headless Chromium; check the API reference
site: install browser
	COURSE_REQUIRE_SITE=1 $(BIN)/pytest -p no:cacheprovider tests/book/test_site.py tests/book/test_api_docs.py

## make lab: JupyterLab on book/ with the package importable
# (Jupyter refuses to run as root without --allow-root: containers and CI machines often are root.
# --KernelManager.transport=ipc: kernels talk over local sockets, not TCP: no "without encryption" warning.)
lab: install
	$(BIN)/jupyter lab --notebook-dir=book --KernelManager.transport=ipc $(if $(filter 0,$(shell id -u)),--allow-root)

## make bench: time companion's layers against torch.nn side by side (not part of `make test`);
## BENCH_ARGS passes options, e.g. `make bench BENCH_ARGS="--clock cpu"` on a busy machine
bench: install
	$(BIN)/python benchmarks/bench_layers.py $(BENCH_ARGS)

clean:
	rm -rf _build .pytest_cache
