"""companion.exercises as a whole: every check has a solution and wrong implementations in its chapter's
test file, and every chapter defines exactly the solutions those files test."""

import ast
import inspect
import json
from pathlib import Path

import pytest
import test_ch01_sequences
import test_ch02_hidden_state
import test_ch03_bptt
import test_ch04_gradients
import test_ch05_lstm
import test_ch06_gru
import test_ch07_deep
import test_ch08_attention
import test_ch09_lm
import test_ch10_music
import test_ch11_forecasting
import test_ch12_classify
import test_ch13_beyond

from companion import exercises as ex

CHAPTER_TESTS = [
    test_ch01_sequences,
    test_ch02_hidden_state,
    test_ch03_bptt,
    test_ch04_gradients,
    test_ch05_lstm,
    test_ch06_gru,
    test_ch07_deep,
    test_ch08_attention,
    test_ch09_lm,
    test_ch10_music,
    test_ch11_forecasting,
    test_ch12_classify,
    test_ch13_beyond,
]
SOLUTIONS = [pair for module in CHAPTER_TESTS for pair in module.SOLUTIONS]
WRONG = [entry for module in CHAPTER_TESTS for entry in module.WRONG]
REAL_MISTAKES = [entry for module in CHAPTER_TESTS for entry in getattr(module, "REAL_MISTAKES", [])]
CHAPTERS_4_TO_6_SOLUTIONS = [
    (ex.check_jacobian_bound, test_ch04_gradients.my_jacobian_bound),
    (ex.check_lstm_step_backward, test_ch05_lstm.my_lstm_step_backward),
    (ex.check_gru_step_backward, test_ch06_gru.my_gru_step_backward),
    (ex.check_gru_jacobian, test_ch06_gru.my_gru_jacobian),
    (ex.check_gru_variants_agree, test_ch06_gru.my_gru_variants_agree),
]


def test_every_check_has_a_solution_here():
    checks = {name for name in ex.__all__ if name.startswith("check_")}
    checks.discard("check_difference_weights")  # takes weights, not a function: tested in its chapter
    assert checks == {check.__name__ for check, _ in SOLUTIONS}


def test_every_exercise_has_a_wrong_implementation_here():
    wrong = {check for check, _, _ in WRONG} | {check for check, _, _ in REAL_MISTAKES}
    assert {check for check, _ in SOLUTIONS} == wrong


def test_each_checker_of_chapters_4_to_6_rejects_at_least_two_wrong_implementations():
    counts = {}
    for check, _, _ in WRONG:
        counts[check] = counts.get(check, 0) + 1
    assert min(counts[check] for check, _ in CHAPTERS_4_TO_6_SOLUTIONS) >= 2


NOTEBOOK_SOLUTIONS = {
    "01-sequences.ipynb": {
        "my_window_features",
        "my_linear_recurrence",
        "my_difference_weights",
        "my_running_sum_window_mse",
    },
    "02-hidden-state.ipynb": {"my_rnn_forward", "my_leaky_rnn_forward"},
    "03-bptt.ipynb": {"my_rnn_backward", "my_masked_cross_entropy", "my_truncation_ratio"},
    "04-gradients.ipynb": {"my_clip_by_norm", "my_step_jacobian"},
    "05-lstm.ipynb": {"my_lstm_step_forward"},
    "06-gru.ipynb": {"my_gru_step_forward"},
    "07-deep-bidirectional.ipynb": {"my_num_parameters", "my_rnn_forward_lengths"},
    "08-attention-seq2seq.ipynb": {"my_masked_softmax", "my_beam_step"},
    "09-language-models.ipynb": {"my_bits_and_perplexity", "my_sampling_distribution"},
    "10-music.ipynb": {"my_piano_roll", "my_bits_per_pitch"},
    "13-beyond-recurrence.ipynb": {"my_causal_self_attention", "my_linear_scan"},
    "11-forecasting.ipynb": {"my_windows", "my_seasonal_naive", "my_mase", "my_recursive_ar"},
    "12-classifying.ipynb": {"my_masked_mean", "my_last_valid", "my_confusion_matrix"},
}


EXACT_SOLUTIONS = {"01-sequences.ipynb", "02-hidden-state.ipynb", "03-bptt.ipynb"}


def notebook_functions(path: Path) -> dict:
    """The functions defined at the top level of a notebook's code cells, by name, as unparsed source."""
    found = {}
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        tree = ast.parse(  # an IPython magic line (%pip, !cmd) parses as a `pass` at its indentation
            "".join(
                line[: len(line) - len(line.lstrip())] + "pass\n"
                if line.lstrip().startswith(("%", "!"))
                else line
                for line in cell["source"]
            )
        )
        found.update(
            {node.name: ast.unparse(node) for node in tree.body if isinstance(node, ast.FunctionDef)}
        )
    return found


def assert_notebook_solutions(book: Path) -> None:
    """Each chapter in ``book`` defines exactly the solutions listed for it, each the one tested here."""
    tested = {
        name: ast.unparse(ast.parse(inspect.getsource(fn)))
        for module in CHAPTER_TESTS
        for name, fn in vars(module).items()
        if name.startswith("my_")
    }
    assert set().union(*NOTEBOOK_SOLUTIONS.values()) <= set(tested)
    for name, expected in NOTEBOOK_SOLUTIONS.items():
        defined = notebook_functions(book / name)
        solutions = {f for f in defined if f.startswith("my_")}
        if name in EXACT_SOLUTIONS:  # other chapters may add solutions that their own test files test
            assert solutions == expected, f"{name}: defines {sorted(solutions)}, expected {sorted(expected)}"
        assert expected <= solutions, f"{name}: defines {sorted(solutions)}, expected {sorted(expected)}"
        for function in expected:
            assert defined[function] == tested[function], (
                f"{name}: {function} differs from the tested solution"
            )


BOOK = Path(__file__).resolve().parents[2] / "book"


def test_notebook_solutions_are_the_tested_ones():
    assert_notebook_solutions(BOOK)


@pytest.mark.parametrize("change", ["rename", "remove", "alter"])
def test_notebook_solution_check_notices_a_changed_solution(tmp_path, change):
    for name in NOTEBOOK_SOLUTIONS:
        (tmp_path / name).write_text((BOOK / name).read_text())
    notebook = json.loads((BOOK / "03-bptt.ipynb").read_text())
    for cell in notebook["cells"]:
        if any("def my_truncation_ratio" in line for line in cell["source"]):
            if change == "rename":
                cell["source"] = [line.replace("my_truncation_ratio", "my_ratio") for line in cell["source"]]
            elif change == "remove":
                cell["source"] = ["check_truncation_ratio(lambda T, k: 1.0)\n"]
            else:
                cell["source"] = [line.replace("(T - 1) // k", "T // k") for line in cell["source"]]
    (tmp_path / "03-bptt.ipynb").write_text(json.dumps(notebook))
    with pytest.raises(AssertionError, match="03-bptt.ipynb: "):
        assert_notebook_solutions(tmp_path)


def test_chapters_4_to_6_notebook_solutions_are_the_tested_ones():
    tested = {
        name: ast.unparse(ast.parse(inspect.getsource(fn)))
        for _, fn in CHAPTERS_4_TO_6_SOLUTIONS
        for name in [fn.__name__]
    }
    found = set()
    for name in ("04-gradients", "05-lstm", "06-gru"):
        path = Path(__file__).resolve().parents[2] / "book" / f"{name}.ipynb"
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] != "code":
                continue
            lines = cell["source"] if isinstance(cell["source"], list) else cell["source"].splitlines(True)
            code = "".join(  # an IPython magic line (%pip, !cmd) parses as a `pass` at its indentation
                line[: len(line) - len(line.lstrip())] + "pass\n"
                if line.lstrip().startswith(("%", "!"))
                else line
                for line in lines
            )
            for node in ast.parse(code).body:
                if isinstance(node, ast.FunctionDef) and node.name in tested:
                    assert ast.unparse(node) == tested[node.name], f"{path.name}: {node.name} differs"
                    found.add(node.name)
    assert found == set(tested), f"solutions missing from the notebooks: {set(tested) - found}"
