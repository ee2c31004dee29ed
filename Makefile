# The course's two commands: `make book` and `make test`. Everything runs inside .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: book test lab install lint unit notebooks book-strict clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## make book: execute every notebook and build the HTML book into _build/html
book: install
	$(BIN)/jupyter-book build --all .
	@echo "The book is at _build/html/index.html"

## make test: lint, package tests, every notebook under nbval, strict book build
test: install lint unit notebooks book-strict

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

unit: install
	$(BIN)/pytest tests

notebooks: install
	$(BIN)/pytest --nbval-lax --nbval-current-env -p no:cacheprovider book

book-strict: install
	$(BIN)/jupyter-book build -W -n --keep-going --all .

## make lab: JupyterLab on book/ with the package importable
lab: install
	$(BIN)/jupyter lab --notebook-dir=book

clean:
	rm -rf _build .pytest_cache
