"""Sort the surviving mutants of a run of ``run.sh`` into message-only, no-op and behaviour mutants.

    python benchmarks/mutation/classify.py /tmp/mutwork          # every file run.sh mutated there

A survivor is *message-only* when the one line it changes differs from the original only inside string
literals (or a string literal became ``None``) and the line is an error message or a function name
passed to a validator: it changes what an error says, not what the code computes. It is a *no-op*
when it only changes where numpy writes a temporary (``out=``), the dtype of a scratch buffer that is
written before it is read, or whether ``astype`` copies. Everything else counts as a behaviour mutant
and is listed for review. The mutation score reported in README.md is killed / (killed + behaviour
survivors).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

STRING = re.compile(r"""(f?"[^"]*"|f?'[^']*')""")
VALIDATOR = re.compile(r"Dims\(|\.check\(|_check_\w+\(|_mask_padded\(|raise |Error\(|where = |warnings\.warn")
NO_OP = [
    re.compile(r"out=None|, \)"),  # a temporary numpy allocates itself, or an argument dropped
    re.compile(r"copy=(None|True)\)"),  # astype copying or not
]
SCRATCH = re.compile(r"^\s*\w+ = (np\.empty|None)")  # a preallocated buffer, overwritten before use


def diff_lines(workdir: Path, mutant: str) -> tuple[str, str]:
    out = subprocess.run(
        [sys.executable, "-m", "mutmut", "show", mutant], cwd=workdir, capture_output=True, text=True
    ).stdout
    old = [line[1:] for line in out.splitlines() if line.startswith("-") and not line.startswith("---")]
    new = [line[1:] for line in out.splitlines() if line.startswith("+") and not line.startswith("+++")]
    return "\n".join(old), "\n".join(new)


def classify(old: str, new: str) -> str:
    if STRING.sub('""', old) == STRING.sub('""', new.replace("None", '""')) and VALIDATOR.search(old):
        return "message"
    if STRING.sub('""', old) == STRING.sub('""', new) and VALIDATOR.search(old):
        return "message"
    if any(p.search(new) for p in NO_OP) and SCRATCH.match(old) is None and "np." in old:
        if "out=" in old or "copy=" in old:
            return "no-op"
    if SCRATCH.match(old) and ("dtype" in old or "None" in new):
        return "no-op"
    return "behaviour"


def main(root: Path) -> None:
    total = {"killed": 0, "message": 0, "no-op": 0, "behaviour": 0, "other": 0}
    for workdir in sorted(p for p in root.iterdir() if (p / "results.txt").exists()):
        counts = dict.fromkeys(total, 0)
        for line in (workdir / "results.txt").read_text().splitlines():
            name, _, status = line.strip().rpartition(": ")
            if status == "killed":
                counts["killed"] += 1
            elif status == "survived":
                kind = classify(*diff_lines(workdir, name))
                counts[kind] += 1
                if kind == "behaviour":
                    print(f"  {name}:", " | ".join(diff_lines(workdir, name)[1].split("\n"))[:160])
            elif name:
                counts["other"] += 1
        score = counts["killed"] / max(1, counts["killed"] + counts["behaviour"])
        print(f"{workdir.name}: {counts} -> {100 * score:.1f}% of behaviour mutants killed")
        total = {k: total[k] + counts[k] for k in total}
    score = total["killed"] / max(1, total["killed"] + total["behaviour"])
    print(f"all: {total} -> {100 * score:.1f}% of behaviour mutants killed")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/mutwork"))
