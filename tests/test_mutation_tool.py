"""scripts/mutation.py, the mutation testing command, on a tiny module and its too weak tests."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
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


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mutation", ROOT / "scripts" / "mutation.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_mutants_of_a_tiny_module() -> None:
    found = _tool().mutants(TINY)
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
    found = _tool().mutants(source)
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
        "killed 5 of 8 mutants (62.5%; 0 by the timeout), 3 survived.",
        "",
        "| # | where | mutation | in |",
        "|---|---|---|---|",
        "| 2 | tiny.py:7 | `and` → `or` | `if member and price > 100:` |",
        "| 3 | tiny.py:7 | `>` → `>=` | `if member and price > 100:` |",
        "| 4 | tiny.py:7 | `100` → `101` | `if member and price > 100:` |",
    ]
    assert (tmp_path / "tiny.py").read_text() == TINY  # the module itself is never touched


def test_a_mutant_that_never_ends_is_killed_by_the_timeout(tmp_path: Path) -> None:
    (tmp_path / "loop.py").write_text(
        "def count(n: int) -> int:\n    while n > 0:\n        n -= 1\n    return n\n"
    )
    (tmp_path / "test_loop.py").write_text(
        "from loop import count\n\n\ndef test_count() -> None:\n    assert count(3) == 0\n"
    )
    tool = _tool()
    results, _ = tool.run(
        "loop.py", ["test_loop.py"], root=tmp_path, only={3}, timeout=3, log=lambda _text: None
    )
    assert [(r.mutant.mutation, r.status) for r in results] == [("removed `n -= 1`", "timeout")]
