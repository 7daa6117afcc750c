"""A pytest plugin for scripts/mutation.py: which tests run each line of the mutated module.

Loaded with ``-p mutation_coverage`` (``scripts/`` on ``PYTHONPATH``) in the unmutated run. It
measures the lines of one file (``MUTATION_COVERAGE_FILE``) with coverage.py, each line recorded
with what ran it:

- ``""``: no test: the imports, the collection (coverage starts when pytest loads this plugin,
  before any conftest);
- ``fixture:NAME``: a fixture wider than a test (its value is shared by the tests using it);
- a test's node id: its function-scoped fixtures, its call, its teardown.

It writes ``MUTATION_COVERAGE_OUT`` (JSON): ``lines`` (line number → what ran it) and ``tests``
(each test's node id in the order run, with the fixtures it uses).
"""

from __future__ import annotations

import json
import os
from collections.abc import Generator
from typing import Any

import coverage
import pytest

_FILE = os.environ["MUTATION_COVERAGE_FILE"]
_COVERAGE = coverage.Coverage(data_file=None, include=[_FILE], config_file=False)
_COVERAGE.start()
_CONTEXTS: list[str] = [""]
_TESTS: list[dict[str, Any]] = []


def _enter(context: str) -> None:
    _CONTEXTS.append(context)
    _COVERAGE.switch_context(context)


def _leave() -> None:
    _CONTEXTS.pop()
    _COVERAGE.switch_context(_CONTEXTS[-1])


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, None, None]:
    _TESTS.append({"id": item.nodeid, "fixtures": list(getattr(item, "fixturenames", ()))})
    _enter(item.nodeid)
    yield
    _leave()


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[Any]) -> Generator[None, None, None]:
    shared = fixturedef.scope != "function"
    if shared:
        _enter(f"fixture:{fixturedef.argname}")
    yield
    if shared:
        _leave()


def pytest_unconfigure(config: pytest.Config) -> None:
    _COVERAGE.stop()
    data = _COVERAGE.get_data()
    lines: dict[int, set[str]] = {}
    for measured in data.measured_files():
        for line, contexts in data.contexts_by_lineno(measured).items():
            lines.setdefault(line, set()).update(contexts)
    with open(os.environ["MUTATION_COVERAGE_OUT"], "w", encoding="utf-8") as out:
        json.dump({"lines": {n: sorted(c) for n, c in lines.items()}, "tests": _TESTS}, out)
