"""What the README promises about installing, checked without installing anything.

* The Makefile: a bare ``make`` lists the targets; ``make install`` stops with one sentence for a
  Python outside the supported range, a missing interpreter or an unknown ``TORCH``; ``TORCH=cpu``
  takes the CPU wheel of the pinned torch from ``TORCH_INDEX``, ``TORCH=cuda`` PyPI's wheel.
* The pins: ``constraints.txt``, ``pyproject.toml``, ``binder/`` and the README agree.
* pip's resolver: ``constraints.txt`` resolves on every Python version the Makefile accepts, at its
  first release (3.11.0, 3.12.0, ...), and PyTorch's CPU index has the pinned torch for each. These
  are the only tests that read a package index: ``--dry-run`` with metadata only, nothing is
  installed. They skip, saying why, where the index cannot be reached or where this environment's
  pip is older than the pinned one (an older pip downloads whole wheels for a dry run).
* What a reader meets once installed: ``help()`` on a subpackage's modules, tqdm's notebook bar
  without a warning, and ``fit()``'s error for a model that returns a tuple.
"""

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import warnings
from pathlib import Path

import pytest
import torch
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
CONSTRAINTS = ROOT / "constraints.txt"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# What a failed connection to a package index looks like in pip's output.
UNREACHABLE = (
    "NewConnectionError",
    "Failed to establish a new connection",
    "Name or service not known",
    "Temporary failure in name resolution",
    "Network is unreachable",
    "No route to host",
    "ConnectTimeoutError",
    "Read timed out",
    "ProxyError",
    "Could not fetch URL",
)
# What PyPI's torch wheel adds on Linux (the CUDA build): not pinned, torch pins it itself.
CUDA_STACK = re.compile(r"^(nvidia-.*|cuda-.*|triton)$")


def make_env() -> dict[str, str]:
    """The environment for a make run of its own (not the flags of a `make unit` around pytest)."""
    return {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}


def make_var(name: str) -> str:
    """The value of a Makefile variable, as make expands it."""
    out = subprocess.run(
        ["make", "--no-print-directory", "-s", "--eval=print-%: ; @echo '$($*)'", f"print-{name}"],
        cwd=ROOT,
        env=make_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def supported_pythons() -> list[str]:
    """["3.11", "3.12", ...]: PYTHON_MIN to PYTHON_MAX of the Makefile."""
    low, high = (Version(make_var(name)) for name in ("PYTHON_MIN", "PYTHON_MAX"))
    assert low.major == high.major == 3 and low.minor <= high.minor, (low, high)
    return [f"3.{minor}" for minor in range(low.minor, high.minor + 1)]


def pins() -> list[Requirement]:
    lines = (line.split("#")[0].strip() for line in CONSTRAINTS.read_text().splitlines())
    return [Requirement(line) for line in lines if line]


def pins_for(python: str) -> dict[str, Requirement]:
    """The pins that apply on Python ``python`` ("3.11.0"), by canonical name, markers evaluated."""
    env = default_environment()
    env.update(python_version=python.rsplit(".", 1)[0], python_full_version=python)
    env["implementation_version"] = python
    chosen: dict[str, Requirement] = {}
    for req in pins():
        if req.marker is None or req.marker.evaluate(env):
            name = canonicalize_name(req.name)
            assert name not in chosen, f"constraints.txt: two pins for {name} on Python {python}"
            chosen[name] = req
    return chosen


def pinned_version(req: Requirement) -> str:
    (spec,) = req.specifier
    assert spec.operator == "==", f"constraints.txt: expected an exact pin, got {req}"
    return spec.version


def project_requirements() -> list[Requirement]:
    """What `pip install -e ".[dev]"` asks for: dependencies and every extra, less the self-reference."""
    project = PYPROJECT["project"]
    lines = project["dependencies"] + [
        r for extra in project["optional-dependencies"].values() for r in extra
    ]
    return [Requirement(r) for r in lines if canonicalize_name(Requirement(r).name) != "rnn-companion"]


TORCH_VERSION = pinned_version(pins_for("3.11.0")["torch"])


@pytest.fixture
def makedir(tmp_path):
    """A copy of what `make install` reads, in a folder of its own (any .venv would appear there)."""
    for name in ("Makefile", "constraints.txt", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "book").mkdir()
    (tmp_path / "companion").mkdir()
    return tmp_path


def run_make(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", *args], cwd=folder, env=make_env(), capture_output=True, text=True)


# --- the Makefile ---------------------------------------------------------------------------


def test_bare_make_lists_every_target_one_line_each(makedir):
    result = run_make(makedir)
    assert result.returncode == 0, result.stderr
    phony = re.search(r"^\.PHONY:(.*)$", (ROOT / "Makefile").read_text(), re.M).group(1).split()
    lines = result.stdout.splitlines()
    for target in phony:
        matching = [line for line in lines if line.split()[:2] == ["make", target]]
        assert len(matching) == 1, f"make help: expected one line for `make {target}`, got {matching}"
        assert len(matching[0].split()) > 3, f"make help: `make {target}` has no description"
    assert len(lines) == len(phony)
    assert not (makedir / ".venv").exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["PYTHON_MIN=3.99", "PYTHON_MAX=3.99"],
            f"is Python {sys.version_info[0]}.{sys.version_info[1]}; the course needs Python 3.99 to 3.99",
        ),
        (["PYTHON=/nonexistent/python3"], "/nonexistent/python3 not found; the course needs Python"),
        (["TORCH=rocm"], "TORCH=rocm is not a choice; use TORCH=cpu (the default) or TORCH=cuda"),
    ],
)
def test_install_refuses_with_one_sentence(makedir, args, expected):
    result = run_make(makedir, "install", f"PYTHON={sys.executable}", *args)
    assert result.returncode != 0
    said = [line for line in result.stderr.splitlines() if not line.startswith("make: ***")]
    assert len(said) == 1 and expected in said[0], result.stderr
    assert result.stdout == ""
    assert not (makedir / ".venv").exists()


def test_python_check_accepts_the_supported_range():
    check = make_var("PYTHON_CHECK")
    here = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert f"{sys.version_info[0]}.{sys.version_info[1]}" in supported_pythons()
    assert here.returncode == 0, here.stderr


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS takes PyPI's wheel, a CPU build there")
def test_torch_cpu_is_the_cpu_wheel_of_the_pinned_version(makedir):
    index = make_var("TORCH_INDEX")
    assert index == "https://download.pytorch.org/whl/cpu"
    default = run_make(makedir, "-n", "install").stdout
    wheel = f'"torch=={TORCH_VERSION}+cpu"'
    assert f"pip install --quiet --no-deps --no-index {wheel}" in default  # a local wheel first
    assert f"pip install --no-deps --extra-index-url {index} {wheel}" in default
    mirror = run_make(makedir, "-n", "install", "TORCH_INDEX=https://mirror.invalid/whl/cpu").stdout
    assert f"--extra-index-url https://mirror.invalid/whl/cpu {wheel}" in mirror
    assert index not in mirror


def test_torch_cuda_is_pypis_wheel(makedir):
    recipe = run_make(makedir, "-n", "install", "TORCH=cuda").stdout
    assert ".venv/bin/pip install -c constraints.txt torch\n" in recipe
    assert "--extra-index-url" not in recipe and "+cpu" not in recipe


def test_install_says_what_it_installs_and_keeps_pips_progress(makedir):
    recipe = run_make(makedir, "-n", "install").stdout
    steps = re.findall(r'^echo "install \[(\d)/3\]: (.*)"$', recipe, re.M)
    assert [n for n, _ in steps] == ["1", "2", "3"]
    assert all(re.search(r"\d+ (kB|MB|GB)", what) for n, what in steps if n != "3"), steps
    main = [line for line in recipe.splitlines() if line.endswith('-e ".[dev]"')]
    assert main == ['.venv/bin/pip install -c constraints.txt -e ".[dev]"']


# --- the pins -------------------------------------------------------------------------------


def test_every_requirement_is_pinned_on_every_supported_python():
    for python in supported_pythons():
        pinned = pins_for(f"{python}.0")
        for req in project_requirements():
            name = canonicalize_name(req.name)
            assert name in pinned, f"constraints.txt: {name} is not pinned for Python {python}"
            assert req.specifier.contains(pinned_version(pinned[name])), (req, pinned[name])
    assert "ipywidgets" in {canonicalize_name(r.name) for r in project_requirements()}


def test_pyproject_and_readme_state_the_makefiles_python_range():
    low, high = make_var("PYTHON_MIN"), make_var("PYTHON_MAX")
    assert PYPROJECT["project"]["requires-python"] == f">={low}"
    readme = (ROOT / "README.md").read_text()
    assert readme.count(f"Python {low} to {high}") >= 2  # prerequisites and set-up
    assert not re.search(r"Python (≥ |>= ?)?3\.10\b", readme)


def test_readme_names_each_torch_choice():
    readme = (ROOT / "README.md").read_text()
    for phrase in ("TORCH=cuda", f"TORCH_INDEX={make_var('TORCH_INDEX')}", f"PyTorch {TORCH_VERSION}"):
        assert phrase in readme, phrase


def test_binder_installs_the_pinned_cpu_build():
    lines = [line.strip() for line in (ROOT / "binder/requirements.txt").read_text().splitlines()]
    lines = [line for line in lines if line and not line.startswith("#")]
    options = [line for line in lines if line.startswith("-")]
    assert options == [f"--extra-index-url {make_var('TORCH_INDEX')}", "-c ../constraints.txt"]
    assert (ROOT / "binder" / "../constraints.txt").resolve() == CONSTRAINTS
    reqs = {
        canonicalize_name(Requirement(line).name): Requirement(line) for line in lines if line not in options
    }
    assert str(reqs.pop("torch")) == f"torch=={TORCH_VERSION}+cpu"
    runtime = {canonicalize_name(Requirement(r).name) for r in PYPROJECT["project"]["dependencies"]}
    assert set(reqs) == (runtime - {"torch"}) | {"ipywidgets"}
    assert all(not req.specifier for req in reqs.values()), "versions come from constraints.txt"
    python = (ROOT / "binder/runtime.txt").read_text().strip()
    resolved_on = re.search(r"resolved together on Python (3\.\d+)", CONSTRAINTS.read_text()).group(1)
    assert python == f"python-{resolved_on}" and resolved_on in supported_pythons()


# --- pip's resolver -------------------------------------------------------------------------


def pip(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pip", *args], capture_output=True, text=True, timeout=timeout
    )


def unreachable(output: str) -> str | None:
    return next((line.strip() for line in output.splitlines() if any(m in line for m in UNREACHABLE)), None)


@pytest.fixture(scope="module")
def resolvable():
    """Skips, saying why, where the resolver tests cannot say anything here."""
    have, pinned = (
        Version(importlib.metadata.version("pip")),
        Version(pinned_version(pins_for("3.11.0")["pip"])),
    )
    if have < pinned:
        pytest.skip(f"pip {have} here is older than constraints.txt's pip {pinned} (run `make install`)")
    probe = pip("index", "versions", "pip", "--retries", "1", "--timeout", "20", timeout=120)
    down = unreachable(probe.stdout + probe.stderr) or (probe.returncode and probe.stderr.strip())
    if down:
        pytest.skip(f"the package index cannot be reached from here: {down}")


@pytest.fixture(scope="module")
def resolutions(resolvable, tmp_path_factory):
    """pip's resolver started for every supported Python at once: {"3.11": (process, folder, pins)}."""
    started = {}
    for python in supported_pythons():
        folder = tmp_path_factory.mktemp(f"resolve-{python}")
        first = f"{python}.0"
        pinned = pins_for(first)
        (folder / "constraints.txt").write_text("".join(f"{r.name}{r.specifier}\n" for r in pinned.values()))
        flags = f"--dry-run --ignore-installed --quiet --python-version {first} --only-binary=:all:"
        command = [sys.executable, "-m", "pip", "install", *flags.split(), "--use-feature=fast-deps"]
        command += ["--target", str(folder / "target"), "--report", str(folder / "report.json")]
        command += ["-c", str(folder / "constraints.txt"), *(str(r) for r in project_requirements())]
        with open(folder / "pip.log", "w") as log:  # a file, not a pipe: pip never waits on a full pipe
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        started[python] = (process, folder, pinned)
    yield started
    for process, _, _ in started.values():
        if process.poll() is None:
            process.kill()


@pytest.mark.parametrize("python", supported_pythons())
def test_constraints_resolve_at_the_first_release(resolutions, python):
    process, folder, pinned = resolutions[python]
    process.wait(timeout=900)
    output = (folder / "pip.log").read_text()
    if process.returncode != 0 and unreachable(output):
        pytest.skip(f"the package index cannot be reached from here: {unreachable(output)}")
    assert process.returncode == 0, (
        f"pip cannot resolve constraints.txt for Python {python}.0:\n{output[-3000:]}"
    )
    resolved = {
        canonicalize_name(item["metadata"]["name"]): Version(item["metadata"]["version"])
        for item in json.loads((folder / "report.json").read_text())["install"]
    }
    assert resolved["torch"].public == TORCH_VERSION
    unpinned = sorted(name for name in resolved if name not in pinned and not CUDA_STACK.match(name))
    assert unpinned == [], f"Python {python}.0: resolved but not pinned in constraints.txt: {unpinned}"
    moved = {
        n: str(v)
        for n, v in resolved.items()
        if n in pinned and Version(v.public) != Version(pinned_version(pinned[n]))
    }
    assert moved == {}


@pytest.mark.parametrize("python", supported_pythons())
def test_cpu_index_has_the_pinned_torch(resolvable, tmp_path, python):
    flags = f"--isolated --dry-run --ignore-installed --no-deps --quiet --python-version {python}.0"
    flags += " --only-binary=:all: --use-feature=fast-deps --retries 1 --timeout 20"
    index, wheel = make_var("TORCH_INDEX"), f"torch=={TORCH_VERSION}+cpu"
    result = pip("install", *flags.split(), "--target", str(tmp_path), "--index-url", index, wheel)
    output = result.stdout + result.stderr
    if result.returncode != 0 and unreachable(output):
        pytest.skip(f"PyTorch's CPU index cannot be reached from here: {unreachable(output)}")
    assert result.returncode == 0, output[-3000:]


# --- once installed -------------------------------------------------------------------------


def fresh_python(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a new interpreter: this one has imported every module already."""
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)


@pytest.mark.parametrize("package", ["ref", "data"])
def test_a_subpackages_modules_are_its_attributes(package):
    names = sorted(p.stem for p in (ROOT / "companion" / package).glob("*.py") if not p.stem.startswith("_"))
    code = (
        f"import pydoc, sys\nimport companion.{package} as package\n"
        f"for name in {names!r}:\n"
        "    module = getattr(package, name)\n"
        "    assert module.__name__ == f'{package.__name__}.{name}', module\n"
        "    assert 'NAME' in pydoc.render_doc(module, renderer=pydoc.plaintext)\n"
    )
    result = fresh_python(code)
    assert result.returncode == 0, result.stderr
    assert len(names) >= 2


def test_numpy_tasks_do_not_import_torch():
    result = fresh_python(
        "import sys, companion.data\ncompanion.data.tasks.sum_task\nprint('torch' in sys.modules)"
    )
    assert result.stdout.strip() == "False", result.stderr


def test_package_docstring_names_every_subpackage_and_module():
    import companion

    parts = [
        p.stem if p.is_file() else p.name
        for p in (ROOT / "companion").iterdir()
        if not p.name.startswith("_") and (p.suffix == ".py" or (p / "__init__.py").exists())
    ]
    missing = [name for name in parts if f"``companion.{name}``" not in companion.__doc__]
    assert missing == [] and len(parts) >= 8


def test_tqdm_notebook_bar_needs_no_warning():
    from tqdm import TqdmWarning
    from tqdm.notebook import IProgress, tqdm

    assert IProgress is not None, "ipywidgets is missing: tqdm's notebook bar falls back with a warning"
    with warnings.catch_warnings():
        warnings.simplefilter("error", TqdmWarning)
        bar = tqdm(total=2, desc="fit", display=False)
        bar.update(2)
        bar.close()
    assert bar.n == 2


def _fit(model, loss_fn):
    from companion.train import fit

    x, y = torch.zeros(3, 5, 2), torch.zeros(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    return fit(model, loss_fn, lambda step: (x, y), optimizer, 2, progress=False)


def test_fit_names_the_tuple_a_bare_layer_returns():
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(2, 4, batch_first=True)
    mse = lambda m, b: torch.nn.functional.mse_loss(m(b[0]), b[1])  # noqa: E731
    with pytest.raises(
        TypeError,
        match=r"expected the model to return one tensor, got a tuple \(Tensor of shape "
        r"\(3, 5, 4\), \(Tensor of shape \(1, 3, 4\), Tensor of shape \(1, 3, 4\)\)\).*"
        r"companion\.train\.Readout\(rnn, out_features\)",
    ):
        _fit(lstm, mse)
    with pytest.raises(
        ValueError,
        match=r"(?s)expected loss_fn to return a scalar tensor, got \(tensor.*; expected "
        r"the model to return one tensor, got a tuple",
    ):
        _fit(lstm, lambda m, b: m(b[0]))


def test_fit_leaves_other_errors_and_tuple_aware_losses_alone():
    from companion.train import Readout

    torch.manual_seed(0)
    lstm = torch.nn.LSTM(2, 4, batch_first=True)
    history = _fit(lstm, lambda m, b: m(b[0])[0][:, -1, :1].sub(b[1]).pow(2).mean())
    assert history.steps == 2
    with pytest.raises(TypeError, match=r"^unsupported operand type\(s\) for -: 'Tensor' and 'str'$"):
        _fit(lstm, lambda m, b: m(b[0])[0] - "one")  # a tuple came back, but this error is not about it
    assert _fit(Readout(lstm, 1), lambda m, b: torch.nn.functional.mse_loss(m(b[0]), b[1])).steps == 2
