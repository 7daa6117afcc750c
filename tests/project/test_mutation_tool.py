"""scripts/mutation.py, the mutation testing command, on a tiny module and its too weak tests."""

from __future__ import annotations

import ast
import functools
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
TINY = '''"""A module docstring is no mutant."""
from math import floor


def discount(price: float, member: bool) -> float:
    """Members pay 10 less above 100."""
    if member and price > 100:
        return price - 10
    return price
'''
# Two cases: the boundary (100) and a member below it are never tried.
WEAK_TESTS = """from tiny import discount


def test_discount() -> None:
    assert discount(200, True) == 190
    assert discount(50, False) == 50
"""
# Its mutants end each way: an import error, a failing test, an endless loop, a survivor.
LOOP = """LIMIT = int("3")


def count(n: int) -> int:
    while n > LIMIT:
        n -= 1
    return n
"""
LOOP_TESTS = """from loop import count


def test_count() -> None:
    assert count(5) == 3
"""
# A cache in the temporary directory, as the library's model cache is.
REMEMBER = '''import tempfile
from pathlib import Path


def remember(value: str) -> str:
    """What was remembered in the temporary directory, else ``value``, remembered from now on."""
    path = Path(tempfile.gettempdir()) / "remembered"
    if path.exists():
        return path.read_text()
    path.write_text(value)
    return value
'''
# Each run logs its temporary directory, which it finds empty.
REMEMBER_TESTS = """import os
import tempfile
from pathlib import Path

from remember import remember


def test_remember() -> None:
    with open(os.environ["TEMP_DIRS_LOG"], "a") as log:
        log.write(tempfile.gettempdir() + "\\n")
    assert list(Path(tempfile.gettempdir()).iterdir()) == []
    assert remember("a") == "a"
"""


# Which tests run each mutant first: those that ran its lines, in this process.
SPLIT = """FACTOR = 2


def double(n: int) -> int:
    return n * FACTOR


def halve(n: int) -> int:
    return n // 2
"""
SPLIT_TESTS = """import subprocess
import sys

from split import double, halve


def test_double() -> None:
    assert double(3) == 6


def test_halve_of_zero() -> None:  # notices none of halve's mutants
    assert halve(0) == 0


def test_halve_in_another_process() -> None:  # runs halve where coverage does not look
    code = "from split import halve; print(halve(9))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout == "4\\n"
"""


@functools.cache
def tool() -> ModuleType:
    """scripts/mutation.py, loaded once (tests/project/test_mutation_figures.py uses it too)."""
    spec = importlib.util.spec_from_file_location("mutation", ROOT / "scripts" / "mutation.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_mutants_of_a_tiny_module() -> None:
    found = tool().mutants(TINY)
    assert [(m.line, m.mutation) for m in found] == [
        (7, "`member and price > 100` → `not (...)`"),
        (7, "`and` → `or`"),
        (7, "`>` → `>=`"),
        (7, "`100` → `101`"),
        (8, "removed `return price - 10`"),
        (8, "`-` → `+`"),
        (8, "`10` → `11`"),
        (9, "removed `return price`"),
    ]
    assert [m.number for m in found] == list(range(1, 9))
    assert "if (member or price > 100):" in found[1].apply(TINY.encode()).decode()
    assert "        pass\n    return price" in found[4].apply(TINY.encode()).decode()


def test_every_mutant_of_the_contract_is_python_that_differs() -> None:
    source = (ROOT / "constructs" / "cdk_ota_update" / "api.py").read_text()
    original = ast.dump(ast.parse(source))
    found = tool().mutants(source)
    assert len(found) > 300
    # Every kind of mutation, with the nodes put in another's place all checked.
    swaps = [m for m in found if "not" in m.mutation]
    for mutant in [*found[::5], *swaps]:
        assert ast.dump(ast.parse(mutant.apply(source.encode()))) != original, mutant


def test_a_run_reports_the_survivors_with_their_lines(tmp_path: Path) -> None:
    (tmp_path / "tiny.py").write_text(TINY)
    (tmp_path / "test_tiny.py").write_text(WEAK_TESTS)
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "mutation.py"),
            "tiny.py",
            "--root",
            str(tmp_path),
            "--tests",
            "test_tiny.py",
            "--jobs",
            "2",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert done.stdout.splitlines()[2:] == [
        "8 mutants run: 5 killed by a failing test, 0 by an error, 0 by the timeout, 3 survived.",
        "Killed 5 of 8 (62.5%).",
        "",
        "| # | where | mutation | in |",
        "|---|---|---|---|",
        "| 2 | tiny.py:7 | `and` → `or` | `if member and price > 100:` |",
        "| 3 | tiny.py:7 | `>` → `>=` | `if member and price > 100:` |",
        "| 4 | tiny.py:7 | `100` → `101` | `if member and price > 100:` |",
    ]
    assert (tmp_path / "tiny.py").read_text() == TINY  # the module itself is never touched


def test_each_outcome_is_counted_apart_and_they_add_up_to_the_mutants_run(
    tmp_path: Path,
) -> None:
    (tmp_path / "loop.py").write_text(LOOP)
    (tmp_path / "test_loop.py").write_text(LOOP_TESTS)
    mutation = tool()
    results, _ = mutation.run(
        "loop.py", ["test_loop.py"], root=tmp_path, jobs=2, timeout=5, log=lambda _text: None
    )
    assert [(r.mutant.mutation, r.status) for r in results] == [
        ("`'3'` → `'XX3XX'`", "error"),  # the test module no longer imports
        ("`>` → `>=`", "killed"),
        ("removed `n -= 1`", "timeout"),
        ("`1` → `2`", "survived"),
        ("removed `return n`", "killed"),
    ]
    assert mutation.report("loop.py", ["test_loop.py"], results).splitlines()[2:4] == [
        "5 mutants run: 2 killed by a failing test, 1 by an error, 1 by the timeout, 1 survived.",
        "Killed 4 of 5 (80.0%).",
    ]


def test_a_mutant_runs_first_against_the_tests_that_ran_its_lines_then_against_all(
    tmp_path: Path,
) -> None:
    (tmp_path / "split.py").write_text(SPLIT)
    (tmp_path / "test_split.py").write_text(SPLIT_TESTS)
    results, _ = tool().run(
        "split.py", ["test_split.py"], root=tmp_path, jobs=2, log=lambda _text: None
    )
    double, zero = ("test_split.py::test_double",), ("test_split.py::test_halve_of_zero",)
    other = "test_split.py::test_halve_in_another_process"
    assert [
        (r.mutant.line, r.mutant.mutation, r.selected, r.status, r.failed) for r in results
    ] == [
        # Run on import: every test may use it.
        (1, "`2` → `3`", None, "killed", double[0]),
        (5, "removed `return n * FACTOR`", double, "killed", double[0]),
        (5, "`*` → `/`", double, "killed", double[0]),
        # The first killed by test_halve_of_zero; it lets the others live, all the tests kill them.
        (9, "removed `return n // 2`", zero, "killed", zero[0]),
        (9, "`//` → `/`", zero, "killed", other),
        (9, "`2` → `3`", zero, "killed", other),
    ]


def test_without_confirmation_a_survivor_of_the_tests_that_ran_its_lines_survives(
    tmp_path: Path,
) -> None:
    (tmp_path / "split.py").write_text(SPLIT)
    (tmp_path / "test_split.py").write_text(SPLIT_TESTS)
    results, _ = tool().run(
        "split.py", ["test_split.py"], root=tmp_path, jobs=2, confirm=False, log=lambda _: None
    )
    # Only the other process's test would kill halve's last two: they count as survivors.
    assert [r.status for r in results] == ["killed"] * 4 + ["survived"] * 2


def test_every_mutant_can_run_against_all_the_tests_at_once(tmp_path: Path) -> None:
    (tmp_path / "split.py").write_text(SPLIT)
    (tmp_path / "test_split.py").write_text(SPLIT_TESTS)
    results, _ = tool().run(
        "split.py", ["test_split.py"], root=tmp_path, jobs=2, select=False, log=lambda _: None
    )
    assert [(r.selected, r.status) for r in results] == [(None, "killed")] * 6


def test_each_run_of_the_tests_has_a_fresh_temporary_directory_removed_after_it(
    tmp_path: Path,
) -> None:
    """Were it shared (with the user, or among mutants), the first run's file would kill the
    mutants after it; were it kept, the user's temporary directory would keep it."""
    root, user_temp, log = tmp_path / "repo", tmp_path / "temp", tmp_path / "temp-dirs.log"
    root.mkdir()
    user_temp.mkdir()
    (root / "remember.py").write_text(REMEMBER)
    (root / "test_remember.py").write_text(REMEMBER_TESTS)
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "mutation.py"),
            "remember.py",
            "--root",
            str(root),
            "--tests",
            "test_remember.py",
            "--jobs",
            "2",
        ],
        env={**os.environ, "TMPDIR": str(user_temp), "TEMP_DIRS_LOG": str(log)},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert done.stdout.splitlines()[2:] == [
        "6 mutants run: 3 killed by a failing test, 0 by an error, 0 by the timeout, 3 survived.",
        "Killed 3 of 6 (50.0%).",
        "",
        "| # | where | mutation | in |",
        "|---|---|---|---|",
        "| 2 | remember.py:7 | `'remembered'` → `'XXrememberedXX'` | "
        '`path = Path(tempfile.gettempdir()) / "remembered"` |',
        "| 4 | remember.py:9 | removed `return path.read_text()` | `return path.read_text()` |",
        "| 5 | remember.py:10 | removed `path.write_text(value)` | `path.write_text(value)` |",
    ]
    temp_dirs = log.read_text().splitlines()
    # The unmutated run, then each mutant: #2 and #5 twice (the test running their lines, then
    # all the tests), #4 once (no test ran its line: all the tests at once).
    assert len(set(temp_dirs)) == len(temp_dirs) == 9
    assert not any(Path(d).exists() for d in temp_dirs)
    assert list(user_temp.iterdir()) == []


def test_only_refuses_a_number_that_is_no_mutant(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "tiny.py").write_text(TINY)
    tool().main(["tiny.py", "--root", str(tmp_path), "--list", "--only", "7-8"])
    assert capsys.readouterr().out.splitlines() == [
        "#7 tiny.py:8 `10` → `11`",
        "#8 tiny.py:9 removed `return price`",
    ]
    with pytest.raises(SystemExit):
        tool().main(["tiny.py", "--root", str(tmp_path), "--list", "--only", "8-10"])
    assert (
        capsys.readouterr()
        .err.splitlines()[-1]
        .endswith("error: tiny.py has 8 mutants, no #9, #10")
    )


def test_every_default_test_exists() -> None:
    for tests in tool().DEFAULT_TESTS.values():
        for test in tests:
            path, _, name = test.partition("::")
            assert (ROOT / path).is_file(), test
            if name:
                tree = ast.parse((ROOT / path).read_text())
                assert name in {f.name for f in tree.body if isinstance(f, ast.FunctionDef)}, test


FIGURES = """# Mutation testing

| module | mutants | figure | equivalent | measured on |
|---|---|---|---|---|
| `tiny.py` | 8 | 6 of 8 | 1 | 0123abc |
|`loop.py`|  5  | not yet measured | - | - |

Prose after the table.
"""


def test_the_table_of_figures_is_read_measured_or_not() -> None:
    mutation = tool()
    assert mutation.figures(FIGURES) == {
        "tiny.py": mutation.Figure("tiny.py", 8, killed=6, equivalent=1, commit="0123abc"),
        "loop.py": mutation.Figure("loop.py", 5),
    }


@pytest.mark.parametrize(
    ("row", "why"),
    [
        ("| `tiny.py` | 8 | 6 of 9 | 1 | 0123abc |", "K of N must count the row's 8 mutants"),
        ("| `tiny.py` | 8 | 6 of 8 | 3 | 0123abc |", "no more than the N - K survivors"),
        ("| `tiny.py` | 8 | 6 of 8 | 1 | - |", "not a row of the table of figures"),
        ("| `tiny.py` | 8 | not yet measured | 1 | - |", "not a row of the table of figures"),
        ("| `tiny.py` | eight | not yet measured | - | - |", "not a row of the table of figures"),
    ],
)
def test_a_row_that_is_no_figure_of_its_mutants_is_refused(row: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        tool().figures(FIGURES.replace("| `tiny.py` | 8 | 6 of 8 | 1 | 0123abc |", row))


def test_counts_keep_a_figure_while_its_module_has_the_mutants_it_was_measured_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "mutation.md").write_text(
        FIGURES.replace("`loop.py`|  5  | not yet", "`loop.py`|  4  | not yet")
    )
    sources = {"tiny.py": TINY, "loop.py": LOOP, "remember.py": REMEMBER}
    for name, source in sources.items():
        (tmp_path / name).write_text(source)
    mutation = tool()
    monkeypatch.setattr(mutation, "DEFAULT_TESTS", {name: [] for name in sources})
    assert mutation.counted_figures(tmp_path).splitlines() == [
        "| module | mutants | figure | equivalent | measured on |",
        "|---|---|---|---|---|",
        "| `tiny.py` | 8 | 6 of 8 | 1 | 0123abc |",
        "| `loop.py` | 5 | not yet measured | - | - |",
        "| `remember.py` | 6 | not yet measured | - | - |",
    ]
