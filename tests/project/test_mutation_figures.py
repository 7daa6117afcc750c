"""docs/mutation.md's figures are of today's modules: each module's mutant count, as
scripts/mutation.py lists it (from the syntax tree alone: seconds, nothing run), is the count its
row records, the one its figure was measured on."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_mutation_tool import tool

pytestmark = pytest.mark.fast  # the loop on every change (CONTRIBUTING.md)

ROOT = Path(__file__).resolve().parents[2]
MODULES = list(tool().DEFAULT_TESTS)


def _recorded() -> dict[str, int]:
    """The mutant count docs/mutation.md records per module (its rows' figures checked against
    them: a figure of K of N mutants where the row records another count is refused)."""
    figures = tool().figures((ROOT / tool().FIGURES).read_text())
    return {module: figure.mutants for module, figure in figures.items()}


def test_the_table_has_a_row_for_each_module_with_default_tests() -> None:
    assert sorted(_recorded()) == sorted(MODULES)


@pytest.mark.parametrize("module", MODULES)
def test_the_recorded_mutant_count_is_the_modules(module: str) -> None:
    count = len(tool().mutants((ROOT / module).read_text()))
    recorded = _recorded()[module]
    assert count == recorded, (
        f"{module} has {count} mutants, docs/mutation.md records {recorded}: re-measure with "
        f"`.venv/bin/python scripts/mutation.py {module} -j 2` and update docs/mutation.md "
        "(`.venv/bin/python scripts/mutation.py --counts` prints its table with today's counts)"
    )
