"""Write the execution times of the book's notebooks, as recorded when they last ran, to a Markdown table.

Jupyter records when each code cell started and finished in the cell's metadata (``execution``:
``iopub.execute_input`` and ``shell.execute_reply``, ISO timestamps, as nbclient and JupyterLab
write them). This script reads them from executed notebooks, by default the records that
``make book`` and ``make test`` build the book from (``_build/executed/book``), and writes one row per
notebook: its code cells, the sum of their run times, and the slowest cell. Kernel start-up and the
time between cells are not included. A notebook without timestamps is listed as "not recorded".

Run from the repository root::

    .venv/bin/python benchmarks/notebook_times.py                       # _build/executed/book
    .venv/bin/python benchmarks/notebook_times.py FOLDER --out PATH     # elsewhere
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from benchlib import markdown_table

ROOT = Path(__file__).resolve().parent.parent
RECORDS = ROOT / "_build" / "executed" / "book"
OUTPUT = Path(__file__).resolve().parent / "notebook_times.md"
START, END = "iopub.execute_input", "shell.execute_reply"


@dataclass(frozen=True)
class NotebookTime:
    """The recorded run of one notebook; ``seconds`` holds one entry per code cell with timestamps."""

    name: str
    title: str
    code_cells: int
    seconds: list[float]
    finished: datetime | None


def _timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def read_notebook(path: Path) -> NotebookTime:
    """The title (first Markdown heading), code cells and per-cell run times of one executed notebook."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    title, seconds, finished, code = path.stem, [], None, 0
    for cell in nb.get("cells", []):
        source = "".join(cell.get("source", ""))
        if cell.get("cell_type") == "markdown" and title == path.stem:
            heading = next((line for line in source.splitlines() if line.startswith("# ")), None)
            title = heading[2:].strip() if heading else title
        if cell.get("cell_type") != "code":
            continue
        code += 1
        stamps = cell.get("metadata", {}).get("execution", {})
        if START in stamps and END in stamps:
            start, end = _timestamp(stamps[START]), _timestamp(stamps[END])
            seconds.append((end - start).total_seconds())
            finished = end if finished is None else max(finished, end)
    return NotebookTime(path.name, title, code, seconds, finished)


def report(times: list[NotebookTime], folder: Path) -> str:
    """The Markdown section: a table with one row per notebook and a total."""
    rows, total = [], 0.0
    for t in times:
        if t.seconds:
            slowest = max(range(len(t.seconds)), key=t.seconds.__getitem__)
            total += sum(t.seconds)
            timed = (
                f"{len(t.seconds)} of {t.code_cells}" if len(t.seconds) < t.code_cells else str(t.code_cells)
            )
            rows.append([t.title, t.name, timed, f"{sum(t.seconds):.1f}", f"{t.seconds[slowest]:.1f}"])
        else:
            rows.append([t.title, t.name, f"0 of {t.code_cells}", "not recorded", ""])
    stamps = [t.finished for t in times if t.finished is not None]
    where = f"`{folder.relative_to(ROOT) if folder.is_relative_to(ROOT) else folder}`"
    if not stamps:
        return (
            "# Notebook execution times\n\n"
            f"No execution times were recorded: {where} holds no executed notebook with cell timestamps. "
            "They appear here after `make book` or `make test` has run the notebooks.\n"
        )
    rows.append(["**all notebooks**", "", "", f"**{total:.1f}**", ""])
    header = ("chapter", "notebook", "code cells timed", "seconds", "slowest cell, s")
    return (
        "# Notebook execution times\n\n"
        f"Run time of every code cell, summed per notebook, as recorded in {where} when the notebooks "
        f"last ran (latest cell finished {max(stamps).astimezone().strftime('%Y-%m-%d %H:%M %Z')}); "
        "kernel start-up is not included.\n\n" + markdown_table(header, rows, numeric_from=2) + "\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "folder", type=Path, nargs="?", default=RECORDS, help=f"executed notebooks ({RECORDS})"
    )
    parser.add_argument("--out", type=Path, default=OUTPUT, help=f"Markdown file to write ({OUTPUT})")
    args = parser.parse_args(argv)
    folder = args.folder.resolve()
    paths = sorted(folder.glob("*.ipynb")) if folder.is_dir() else []
    text = report([read_notebook(p) for p in paths], folder)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
