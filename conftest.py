"""pytest set-up shared by the package tests (tests/) and the notebooks under nbval (book/).

No test, package code or notebook may reach the network: the guard in tests/plugins/netguard.py is
installed in this process, and an IPython start-up file installs it in every notebook kernel that
nbval starts (kernels inherit IPYTHONDIR from this process).

``tests/plugins/nbval_record.py`` adds ``--nbval-record``: the Makefile's notebook run keeps what nbval
executed, and the book is built from those records instead of executing the notebooks a second time.
"""

import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "tests" / "plugins"))

import netguard  # noqa: E402

netguard.install()

pytest_plugins = ["nbval_record"]

_IPYTHONDIR = Path(tempfile.mkdtemp(prefix="course-ipython-"))
_startup = _IPYTHONDIR / "profile_default" / "startup"
_startup.mkdir(parents=True)
(_startup / "00-netguard.py").write_text(
    "import runpy\n"
    f"runpy.run_path({str(ROOT / 'tests' / 'plugins' / 'netguard.py')!r}, run_name='netguard')['install']()\n"
)
os.environ["IPYTHONDIR"] = str(_IPYTHONDIR)


def pytest_unconfigure(config):
    shutil.rmtree(_IPYTHONDIR, ignore_errors=True)
