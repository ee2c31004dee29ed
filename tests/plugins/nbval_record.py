"""The notebooks run once: nbval executes and tests them, and the book is built from what it executed.

Two parts, both used by the Makefile.

A pytest plugin (loaded by ``conftest.py``) adds ``--nbval-record=DIR``. With it, every notebook that
nbval runs is written to ``DIR/<its path>`` (``_build/executed/book/03-bptt.ipynb``) once all of its code
cells have passed: the notebook as read by nbval, each code cell carrying the outputs nbval received
from the kernel and checked, numbered in execution order, with the times it started and finished in
its ``execution`` metadata (``iopub.execute_input``, ``shell.execute_reply``, as Jupyter writes them).
A record is deleted when its notebook is collected and written only when every code cell passed (or
was skipped by its ``nbval-skip`` tag), so a notebook that fails, is interrupted or runs only in part
leaves no record. Each record says
``mystnb: {execution_mode: "off"}`` in its metadata: the book renders it and never executes it again.

A command line, ``python tests/plugins/nbval_record.py --records DIR --out STAGE SOURCE...``, copies the book's
sources (``_config.yml``, ``_toc.yml``, ``book``) into ``STAGE`` with every notebook replaced by its
record. It fails, naming the notebook, when a record is missing or was made from different cells than
the notebook has now; Jupyter Book then builds ``STAGE``.
"""

from __future__ import annotations

import argparse
import copy
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

import nbformat
import pytest
from nbval.plugin import IPyNbCell, IPyNbFile

RECORD_METADATA = {"execution_mode": "off"}  # myst-nb's per-notebook setting: render, do not execute
START, END = "iopub.execute_input", "shell.execute_reply"  # a cell's run, in its `execution` metadata


def pytest_addoption(parser):
    parser.getgroup("nbval").addoption(
        "--nbval-record",
        metavar="DIR",
        default=None,
        help="write every notebook whose cells all pass to DIR/<notebook path>, with the outputs nbval got",
    )


def pytest_configure(config):
    folder = config.getoption("nbval_record")
    if folder is None:
        return
    if not (config.option.nbval or config.option.nbval_lax):
        raise pytest.UsageError("--nbval-record: expected --nbval or --nbval-lax, got neither")
    config.pluginmanager.register(Recorder(config.rootpath / folder, config.rootpath), "nbval-record")


def record_path(folder: Path, root: Path, notebook: Path) -> Path:
    """Where the record of ``notebook`` (a path inside ``root``) lies in ``folder``."""
    try:
        relative = notebook.resolve().relative_to(root.resolve())
    except ValueError:
        raise ValueError(f"nbval_record: expected a notebook inside {root}, got {notebook}") from None
    return folder / relative


class Recorder:
    """Collects each cell's outputs during an nbval run and writes each notebook that passed.

    Parameters
    ----------
    folder : Path
        The folder records are written to.
    root : Path
        The repository root: a record's path below ``folder`` is its notebook's path below ``root``.
    """

    def __init__(self, folder: Path, root: Path):
        self.folder = folder
        self.root = root
        self.cells: dict[IPyNbFile, list[IPyNbCell]] = {}
        self.runs: dict[IPyNbCell, tuple | None] = {}  # (outputs, start, stop); None: skipped by its tag
        self.failed: set[IPyNbFile] = set()

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items):
        for item in items:
            if isinstance(item, IPyNbCell):
                self.cells.setdefault(item.parent, []).append(item)
        for notebook in self.cells:
            record_path(self.folder, self.root, notebook.path).unlink(missing_ok=True)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        if not isinstance(item, IPyNbCell) or item.parent not in self.cells:
            return report
        notebook = item.parent
        if report.when == "call" and report.passed:
            self.runs[item] = (copy.deepcopy(item.test_outputs or []), call.start, call.stop)
        elif report.when == "call" and report.skipped and item.options["skip"]:
            self.runs[item] = None
        elif not report.passed:
            self.failed.add(notebook)
        if report.when == "teardown" and item is self.cells[notebook][-1]:
            self.finish(notebook)
        return report

    def finish(self, notebook: IPyNbFile) -> None:
        """Write ``notebook``'s record if every one of its code cells ran and passed; then forget it."""
        items = self.cells.pop(notebook)
        runs = [self.runs.pop(item, False) for item in items]
        code = [cell for cell in notebook.nb.cells if cell.cell_type == "code"]
        complete = len(items) == len(code) and all(run is not False for run in runs)
        if notebook in self.failed or not complete:
            return
        nb = copy.deepcopy(notebook.nb)
        code = [cell for cell in nb.cells if cell.cell_type == "code"]
        count = 0
        for item, run in zip(items, runs, strict=True):
            cell = code[item.cell_num]
            cell.metadata.pop("execution", None)  # the times of the committed run, if any
            if run is None:
                cell.outputs, cell.execution_count = [], None
                continue
            outputs, start, stop = run
            count += 1
            cell.outputs, cell.execution_count = outputs, count
            cell.metadata["execution"] = {START: _iso(start), END: _iso(stop)}
            for output in outputs:
                if output.output_type == "execute_result":
                    output.execution_count = count
        nb.metadata.setdefault("mystnb", {}).update(RECORD_METADATA)
        nbformat.validate(nb)
        path = record_path(self.folder, self.root, notebook.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        nbformat.write(nb, partial)
        partial.replace(path)


def _iso(seconds: float) -> str:
    """A time in seconds since the epoch as Jupyter writes it: ``2026-01-31T12:00:00.123456Z``."""
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


class StageError(Exception):
    """A notebook of the book has no record that matches it."""


def cell_content(nb) -> list[tuple]:
    """What a record must share with its notebook: each cell's type, source and metadata (but times)."""
    return [
        (cell.cell_type, cell.source, {k: v for k, v in cell.metadata.items() if k != "execution"})
        for cell in nb.cells
    ]


def stage_notebook(notebook: Path, records: Path, out: Path) -> None:
    """Write the record of ``notebook`` (a relative path) to ``out / notebook``, after checking it."""
    record = records / notebook
    if not record.is_file():
        raise StageError(f"{notebook}: expected its executed record at {record}, found none")
    executed = nbformat.read(record, as_version=4)
    if cell_content(executed) != cell_content(nbformat.read(notebook, as_version=4)):
        raise StageError(f"{notebook}: changed since {record} was executed; execute it again")
    if executed.metadata.get("mystnb", {}).get("execution_mode") != RECORD_METADATA["execution_mode"]:
        raise StageError(f"{record}: expected a record written by nbval_record, got another notebook")
    shutil.copyfile(record, out / notebook)


def stage(sources: list[Path], records: Path, out: Path) -> list[Path]:
    """Copy ``sources`` (paths relative to the current folder) into ``out``, notebooks from ``records``.

    Returns
    -------
    list of Path
        The notebooks staged, relative paths.
    """
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    skip = shutil.ignore_patterns("*.ipynb", ".ipynb_checkpoints", "__pycache__")
    notebooks = []
    for source in sources:
        if source.is_absolute() or not source.exists():
            raise StageError(f"expected a relative path to a file or folder, got {source}")
        if source.is_dir():
            shutil.copytree(source, out / source, ignore=skip)
            found = [p for p in source.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts]
        elif source.suffix == ".ipynb":
            found = [source]
        else:
            (out / source).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, out / source)
            found = []
        for notebook in sorted(found):
            (out / notebook).parent.mkdir(parents=True, exist_ok=True)
            stage_notebook(notebook, records, out)
            notebooks.append(notebook)
    return notebooks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=Path, required=True, help="folder of executed records")
    parser.add_argument("--out", type=Path, required=True, help="folder to build the book from")
    parser.add_argument("sources", type=Path, nargs="+", help="book sources, relative paths")
    args = parser.parse_args(argv)
    try:
        notebooks = stage(args.sources, args.records, args.out)
    except StageError as error:
        print(f"nbval_record: {error}", file=sys.stderr)
        return 1
    print(f"nbval_record: staged {args.out} with {len(notebooks)} executed notebooks from {args.records}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
