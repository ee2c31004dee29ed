"""Sort the surviving mutants of a ``run.sh`` run: message-only, no-op, equivalent or behaviour.

    python benchmarks/mutation/classify.py /tmp/mutwork          # every file run.sh mutated there

A survivor is *message-only* when the one line it changes differs from the original only inside string
literals (or a string literal became ``None``) and the line is an error message or a function name
passed to a validator: it changes what an error says, not what the code computes. It is a *no-op*
when it only changes where numpy writes a temporary (``out=``), the dtype of a scratch buffer that is
written before it is read, or whether ``astype`` copies. It is *equivalent* when it matches one of the
rules in ``EQUIVALENT`` below, each a change that no input can observe (the reason is given with each
rule; README.md lists them). Everything else counts as a behaviour mutant and is listed for review.
The mutation score reported in README.md is killed / (killed + behaviour survivors).
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


def _zip_not_strict(old: str, new: str) -> bool:
    """``zip(..., strict=True)`` made lenient. Every such zip in the mutated files pairs sequences of
    equal length by construction (README.md lists the sites), and ``strict`` only acts on unequal ones."""
    return "strict=True" in old and new in (
        old.replace("strict=True", "strict=False"),
        old.replace("strict=True", "strict=None"),
        old.replace(", strict=True)", ", )"),
    )


def _falsy_for_none(old: str, new: str) -> bool:
    """A falsy constant (``False``, ``0``) replaced by ``None`` where the value is only tested for truth:
    ``getattr``'s default under ``if``, ``not``, ``bool``, ``if``/``else`` or ``or``, and tqdm's
    ``refresh`` flag (``set_postfix`` reads it as ``if refresh:``)."""
    for literal in ("False", "0"):
        for call in re.findall(rf"getattr\([^()]*, {literal}\)", old):
            after = call[: -len(literal) - 1] + "None)"
            c = re.escape(call)
            truth_only = re.search(rf"if (not )?{c}:|if {c} else|\({c} or |bool\({c}\)", old)
            if truth_only and new == old.replace(call, after):
                return True
    return "refresh=False" in old and new == old.replace("refresh=False", "refresh=None")


def _to_none(old: str, new: str) -> bool:
    """``t if dtype is None else t.to(dtype)`` forced to its second branch: ``t.to(None)`` returns ``t``."""
    match = re.search(r"(\S+) if (\w+) is None else \1\.to\(\2\)", old)
    return match is not None and new == old.replace(
        f"if {match[2]} is None else", f"if ({match[2]} is None) and False else"
    )


EQUIVALENT = {
    "zip strict": _zip_not_strict,
    # warnings.warn's category defaults to UserWarning
    "warning category": lambda old, new: old.strip() == "UserWarning," and new.strip() in ("None,", ""),
    "falsy for None": _falsy_for_none,
    # sqrt(inf) = inf and sqrt(nan) = nan: the guard of a square root of a sum of squares changes nothing
    "sqrt guard": lambda old, new: (
        re.search(r"math\.sqrt\((\w+)\) if math\.isfinite\(\1\) else float\(\1\)", old) is not None
        and "or True" in new
    ),
    "to(None)": _to_none,
    # F.dropout's training argument defaults to True
    "default argument": lambda old, new: (
        "F.dropout(" in old and new == old.replace(", training=True)", ", )")
    ),
    # check_tensor on a value already known not to be a tensor raises before it reads shape or dtype
    "unread arguments": lambda old, new: (
        re.match(r"\s*check_tensor\(where, \"\w+\", \w+, ", old) is not None
        and old.rstrip().endswith("# raises: not a tensor")
        and new.startswith(re.match(r"\s*check_tensor\(where, \"\w+\", \w+, ", old)[0])
    ),
    # at norm == max_norm the rescaling multiplies by max_norm / norm == 1.0 exactly: g * 1.0 == g
    "unit rescale": lambda old, new: (
        old.strip() == "if norm > max_norm:" and new.strip() == "if norm >= max_norm:"
    ),
}


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
    if any(rule(old, new) for rule in EQUIVALENT.values()):
        return "equivalent"
    return "behaviour"


def main(root: Path) -> None:
    total = {"killed": 0, "message": 0, "no-op": 0, "equivalent": 0, "behaviour": 0, "other": 0}
    for workdir in sorted(p for p in root.iterdir() if (p / "results.txt").exists()):
        counts = dict.fromkeys(total, 0)
        for line in (workdir / "results.txt").read_text().splitlines():
            name, _, status = line.strip().rpartition(": ")
            if status == "killed":
                counts["killed"] += 1
            elif status == "survived":
                kind = classify(*diff_lines(workdir, name))
                counts[kind] += 1
                if kind in ("behaviour", "equivalent"):
                    mark = "  " if kind == "behaviour" else "  (equivalent) "
                    print(f"{mark}{name}:", " | ".join(diff_lines(workdir, name)[1].split("\n"))[:160])
            elif name:
                counts["other"] += 1
        score = counts["killed"] / max(1, counts["killed"] + counts["behaviour"])
        print(f"{workdir.name}: {counts} -> {100 * score:.1f}% of behaviour mutants killed")
        total = {k: total[k] + counts[k] for k in total}
    score = total["killed"] / max(1, total["killed"] + total["behaviour"])
    print(f"all: {total} -> {100 * score:.1f}% of behaviour mutants killed")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/mutwork"))
