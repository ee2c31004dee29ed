"""tests/plugins/nbval_record.py: the book shows what nbval executed, and nothing that failed or changed since.

Two small notebooks run under nbval in a separate pytest process (one kernel each): one passes, one
raises. The passing one writes a token it generated to a file and prints it, so the record can be
checked against what that execution produced.
"""

import os
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import nbformat
import pytest
from nbval_record import END, START, StageError, stage

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"


def notebook(*cells):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for source, tags in cells:
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["tags"] = list(tags)
        nb.cells.append(cell)
    return nb


@pytest.fixture(scope="module")
def nbval_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    (root / "pytest.ini").write_text("[pytest]\n")
    (root / "book").mkdir()
    token_file = root / "token.txt"
    good = notebook(
        (f"import uuid\ntoken = uuid.uuid4().hex\nopen({str(token_file)!r}, 'w').write(token)", ()),
        ("print('token', token)", ()),
        ("6 * 7", ()),
        ("raise SystemExit('a skipped cell never runs')", ("nbval-skip",)),
    )
    bad = notebook(("x = 1", ()), ("raise ValueError('broken chapter')", ()))
    nbformat.write(good, root / "book" / "good.ipynb")
    nbformat.write(bad, root / "book" / "bad.ipynb")
    stale = root / "executed" / "book" / "bad.ipynb"  # from an earlier run that passed
    stale.parent.mkdir(parents=True)
    nbformat.write(good, stale)
    command = [sys.executable, "-m", "pytest", "--color=no", "-p", "nbval_record", "-p", "no:cacheprovider"]
    command += ["--nbval-lax", "--nbval-current-env", "--nbval-record=executed", "--rootdir", str(root)]
    started = time.time()
    result = subprocess.run(
        [*command, "book"],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(PLUGINS)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    return root, result, token_file.read_text(), (started, time.time())


def test_a_failing_notebook_fails_the_run_and_leaves_no_record(nbval_run):
    root, result, _, _ = nbval_run
    assert result.returncode == 1, result.stdout[-2000:]
    assert "FAILED book/bad.ipynb::Cell 1" in result.stdout
    assert "broken chapter" in result.stdout
    assert not (root / "executed" / "book" / "bad.ipynb").exists()


def test_record_holds_the_outputs_of_the_tested_execution(nbval_run):
    root, _, token, (started, finished) = nbval_run
    record = nbformat.read(root / "executed" / "book" / "good.ipynb", as_version=4)
    nbformat.validate(record)
    cells = record["cells"]
    assert [c["execution_count"] for c in cells] == [1, 2, 3, None]
    assert cells[1]["outputs"] == [{"output_type": "stream", "name": "stdout", "text": f"token {token}\n"}]
    [result] = cells[2]["outputs"]
    assert (result["output_type"], result["execution_count"], result["data"]) == (
        "execute_result",
        3,
        {"text/plain": "42"},
    )
    assert cells[3]["outputs"] == []
    stamps = [c.metadata.get("execution", {}) for c in cells]
    assert stamps[3] == {}, "a skipped cell has no run time"
    times = [
        datetime.fromisoformat(s[key].replace("Z", "+00:00")).timestamp()
        for s in stamps[:3]
        for key in (START, END)
    ]
    assert started <= times[0] and times == sorted(times) and times[-1] <= finished
    assert record["metadata"]["mystnb"] == {"execution_mode": "off"}


@pytest.fixture
def sources(nbval_run, tmp_path, monkeypatch):
    """A copy of the passing notebook and its record in tmp_path, the current folder."""
    root, _, _, _ = nbval_run
    (tmp_path / "book").mkdir()
    shutil.copyfile(root / "book" / "good.ipynb", tmp_path / "book" / "good.ipynb")
    (tmp_path / "book" / "intro.md").write_text("# Intro\n")
    shutil.copytree(root / "executed", tmp_path / "executed", ignore=shutil.ignore_patterns("bad.*"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_stage_puts_the_record_in_place_of_the_notebook(sources):
    staged = stage([Path("book")], sources / "executed", sources / "staged")
    assert staged == [Path("book/good.ipynb")]
    assert (sources / "staged/book/intro.md").read_text() == "# Intro\n"
    record = sources / "executed" / "book" / "good.ipynb"
    assert (sources / "staged/book/good.ipynb").read_bytes() == record.read_bytes()


def test_stage_refuses_a_notebook_changed_since_it_ran(sources):
    nb = nbformat.read(sources / "book" / "good.ipynb", as_version=4)
    nb.cells[2].source = "6 * 9"
    nbformat.write(nb, sources / "book" / "good.ipynb")
    with pytest.raises(StageError, match=r"book/good.ipynb: changed since .* was executed"):
        stage([Path("book")], sources / "executed", sources / "staged")


def test_stage_refuses_a_notebook_without_a_record(sources):
    shutil.copyfile(sources / "book" / "good.ipynb", sources / "book" / "new.ipynb")
    with pytest.raises(StageError, match=r"book/new.ipynb: expected its executed record at .*, found none"):
        stage([Path("book")], sources / "executed", sources / "staged")
