"""The GitHub Actions workflow (.github/workflows/book.yml) runs what a reader runs.

Every command it runs is a Makefile target; the job that publishes the book runs ``make test`` first
and uploads the folder the Makefile builds the book into; it tests every Python version the Makefile
accepts; and the book is deployed only from ``main``.
"""

import re
import shlex
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = yaml.safe_load((ROOT / ".github/workflows/book.yml").read_text())
MAKEFILE = (ROOT / "Makefile").read_text()
JOBS = WORKFLOW["jobs"]


def makefile_targets() -> set[str]:
    """The targets the Makefile defines (rules, not variable assignments)."""
    return set(re.findall(r"^([A-Za-z][\w.-]*)\s*:(?!=)", MAKEFILE, re.M))


def makefile_var(name: str) -> str:
    return re.search(rf"^{name}\s*:?=\s*(\S+)", MAKEFILE, re.M).group(1)


def run_commands(job: dict) -> list[list[str]]:
    """Each shell command of the job's `run` steps, split into words."""
    commands = []
    for step in job["steps"]:
        for line in step.get("run", "").splitlines():
            if line.strip() and not line.strip().startswith("#"):
                commands.append(shlex.split(line))
    return commands


def container_python(job: dict, matrix_value: str | None = None) -> str:
    image = job["container"] if isinstance(job["container"], str) else job["container"]["image"]
    if matrix_value is not None:
        image = image.replace("${{ matrix.python }}", matrix_value)
    match = re.fullmatch(r"python:(3\.\d+)-\w+", image)
    assert match, f"expected an official python image, got {image!r}"
    return match.group(1)


def supported_pythons() -> list[str]:
    low, high = (int(makefile_var(name).split(".")[1]) for name in ("PYTHON_MIN", "PYTHON_MAX"))
    return [f"3.{minor}" for minor in range(low, high + 1)]


@pytest.mark.parametrize("name", sorted(JOBS))
def test_every_command_is_a_makefile_target(name):
    targets = makefile_targets()
    for words in run_commands(JOBS[name]):
        assert words[0] == "make", f"job {name}: expected a make target, got {shlex.join(words)!r}"
        assert words[1:] and set(words[1:]) <= targets, f"job {name}: not Makefile targets: {words[1:]}"


def test_the_pages_upload_follows_make_test_and_takes_the_built_book():
    steps = JOBS["test"]["steps"]
    uses = [step.get("uses", "").split("@")[0] for step in steps]
    upload = uses.index("actions/upload-pages-artifact")
    ran = [step["run"].split() for step in steps[:upload] if "run" in step]
    assert ran == [["make", "test"]]
    built = re.search(r'The book is at (\S+)/index\.html"', MAKEFILE).group(1)
    assert steps[upload]["with"]["path"] == built == "_build/html"
    assert "test" in makefile_targets() and "book-strict" in re.search(r"^test:(.*)$", MAKEFILE, re.M).group(
        1
    )


def test_deploy_publishes_only_main_after_the_tests():
    deploy = JOBS["deploy"]
    assert deploy["needs"] == "test"
    assert "github.event_name == 'push'" in deploy["if"] and "refs/heads/main" in deploy["if"]
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages"
    assert [step["uses"].split("@")[0] for step in deploy["steps"]] == ["actions/deploy-pages"]
    assert WORKFLOW["permissions"] == {"contents": "read"}  # the other jobs cannot write


def test_triggers():
    on = WORKFLOW.get("on", WORKFLOW.get(True))  # YAML 1.1 reads a bare `on` as True
    assert on["push"]["branches"] == ["main"] and "pull_request" in on


def test_every_supported_python_is_tested():
    tested = [container_python(JOBS["test"])]
    matrix = JOBS["python-versions"]["strategy"]["matrix"]["python"]
    tested += [container_python(JOBS["python-versions"], version) for version in matrix]
    assert sorted(tested, key=lambda v: int(v.split(".")[1])) == supported_pythons()
    assert run_commands(JOBS["python-versions"]) == [["make", "unit"]]
    constraints = (ROOT / "constraints.txt").read_text()
    assert f"resolved together on Python {tested[0]}" in constraints  # `make test` runs on that one


def test_pip_caches_are_keyed_on_the_constraints():
    for name in ("test", "python-versions"):
        caches = [step for step in JOBS[name]["steps"] if step.get("uses", "").startswith("actions/cache@")]
        assert len(caches) == 1 and "hashFiles('constraints.txt')" in caches[0]["with"]["key"], name
