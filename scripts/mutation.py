"""Mutation testing: how many small faults in a module do the tests notice?

    python3 scripts/mutation.py constructs/cdk_ota_update/api.py [--tests T ...] [--jobs N]
    python3 scripts/mutation.py --counts   # docs/mutation.md's table of figures, today's counts

Each mutant is one small change to the module's source, made on its syntax tree:

- an operator: comparison (``<`` → ``<=``, ``==`` → ``!=``, ``in`` → ``not in``, ...), boolean
  (``and`` ↔ ``or``), arithmetic (``+`` ↔ ``-``, ``*`` ↔ ``/``, ...);
- a constant: a number ``n`` → ``n + 1``, a string ``s`` → ``'XX' s 'XX'`` (f-string parts
  included), ``True`` ↔ ``False``, ``None`` → ``''``;
- a condition: ``not x`` → ``x``, ``if x`` → ``if not (x)``;
- a statement removed (``pass`` in its place): calls, ``yield``/``yield from``, ``return``,
  ``raise``, ``continue``/``break``, augmented assignments.

Docstrings, imports and annotations are left alone. Each mutant is written into a private copy
of the repository (one per job), where the chosen tests run with ``-x`` and a timeout (a multiple
of the unmutated run's time), so that a mutant which loops forever counts as killed. Each run of
the tests has a temporary directory of its own (``TMPDIR``, ``TEMP`` and ``TMP``), removed after
it: what a mutant writes there (the library's private cache directory is in it) reaches neither
the user's temporary directory nor the next mutant. A mutant is killed when a test fails, when
pytest ends in an error (exit code 2 to 5 or a signal: a test module no longer imports, say) or
when the tests time out, and survives when they pass; the report counts each of the four apart,
their sum the mutants run. The unmutated tests must pass first. The report is a Markdown table of
the survivors (file:line, the mutation) and the kill rate; ``--only`` reruns chosen mutants,
``--every n`` runs a sample, ``--list`` lists them without running anything.

Not part of the test suite (a run takes many minutes); ``tests/project/test_mutation_tool.py``
checks the tool itself on tiny modules. The results and the equivalent mutants are in
docs/mutation.md, whose table records each module's mutant count:
``tests/project/test_mutation_figures.py`` fails when a module's count is no longer the one its
figure was measured on.
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures
import contextlib
import dataclasses
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = Path(__file__).resolve().parent

# The fast tests that exercise each module (``-x`` stops at the first failure): the module's own
# tests first, then the others fastest first.
DEFAULT_TESTS: dict[str, list[str]] = {
    "constructs/cdk_ota_update/api.py": [
        "tests/contract/test_api.py",
        "tests/contract/test_api_rules.py",
        "tests/contract/test_model_cache.py",  # the contract's part of the model, the Lambda's copy
        "tests/contract/test_time_budget.py",
        "tests/handler/test_lifecycle.py",  # the bounds the lifecycle reads from the contract
        "tests/construct/test_rollout_gate.py",
        *(
            f"tests/emulation/test_emulation.py::{name}"
            for name in (
                "test_signature_blob_round_trips_as_bytes",
                "test_invalid_request_is_answered_as_aws_words_it",
                "test_target_that_is_no_thing_arn_is_invalid",
                "test_creation_with_more_tags_than_a_resource_keeps_is_invalid",
                "test_tagging_past_the_limit_with_existing_tags_is_invalid_and_changes_nothing",
                "test_a_resource_at_the_limit_can_change_its_values_and_untag",
                "test_tag_resource_refuses_what_the_tag_shapes_refuse",
                "test_invalid_stream_is_invalid_request",
            )
        ),
        "tests/construct/test_validation.py",
        "tests/construct/test_synth_checks.py",
    ],
    "lambda_handler/lifecycle.py": [
        "tests/handler/test_lifecycle.py",
        "tests/handler/test_handler.py",
        "tests/handler/test_handler_faults.py",
        "tests/handler/test_handler_orphans.py",
        "tests/handler/test_handler_tags.py",
        "tests/handler/test_handler_events.py",
        "tests/handler/test_handler_sequences.py",  # CloudFormation's rarer sequences
        "tests/handler/test_handler_answers.py",
        "tests/handler/test_handler_gate.py",  # the rollout gate's wait
    ],
    "lambda_handler/index.py": [
        "tests/handler/test_crhelper_pins.py",
        "tests/handler/test_handler.py",
        "tests/handler/test_handler_events.py",
        "tests/handler/test_handler_answers.py",
        "tests/handler/test_handler_orphans.py",
        "tests/handler/test_handler_tags.py",
        "tests/handler/test_handler_sequences.py",
        "tests/handler/test_handler_faults.py",
        "tests/handler/test_handler_gate.py",
    ],
    "constructs/cdk_ota_update/policy.py": [
        "tests/construct/test_policy_sizes.py",
        "tests/construct/test_provider_iam.py",
        "tests/construct/test_provider_options.py",
        "tests/construct/test_construct.py",
        "tests/construct/test_iam.py",
    ],
    "constructs/cdk_ota_update/grants.py": [
        "tests/construct/test_grants.py",
        "tests/construct/test_provider_iam.py",
        "tests/construct/test_policy_sizes.py",
        "tests/construct/test_construct.py",
        "tests/construct/test_iam.py",
    ],
}
# Not copied into the private copies; .venv and node_modules are linked instead.
IGNORED = (
    ".git",
    ".venv",
    ".venv-floor",
    "node_modules",
    "cdk.out",
    "__pycache__",
    "build",
    "dist",
    "*.egg-info",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
)
LINKED = (".venv", "node_modules")

_COMPARE: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
_BINARY: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div,
    ast.Mod: ast.Div,
    ast.Pow: ast.Mult,
    ast.BitOr: ast.BitAnd,
    ast.BitAnd: ast.BitOr,
    ast.LShift: ast.RShift,
    ast.RShift: ast.LShift,
}
_BOOLEAN: dict[type[ast.boolop], type[ast.boolop]] = {ast.And: ast.Or, ast.Or: ast.And}
_SYMBOL: dict[type[ast.AST], str] = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
    ast.BitOr: "|",
    ast.BitAnd: "&",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.And: "and",
    ast.Or: "or",
}
_REMOVABLE = (ast.Expr, ast.Return, ast.Raise, ast.Continue, ast.Break, ast.AugAssign)


@dataclass(frozen=True)
class Mutant:
    number: int
    line: int
    mutation: str
    code: str  # the line of the original source
    start: int  # byte offsets of the replaced source
    end: int
    replacement: bytes
    # The lines a test runs when it runs the replaced source: its statement's (a compound
    # statement's first line and the replaced source's own); none for source outside functions,
    # which runs on import (whichever test imports the module first, every test uses it)
    runs_on: frozenset[int] = frozenset()

    def apply(self, source: bytes) -> bytes:
        return source[: self.start] + self.replacement + source[self.end :]


Status = Literal["killed", "error", "timeout", "survived"]
# Each outcome of a mutant's tests, as the report counts it; all but "survived" kill the mutant.
STATUSES: dict[Status, str] = {
    "killed": "killed by a failing test",
    "error": "by an error",  # pytest's exit code 2 to 5, or a signal
    "timeout": "by the timeout",
    "survived": "survived",
}


@dataclass(frozen=True)
class Result:
    mutant: Mutant
    status: Status
    seconds: float
    # The tests that ran its lines, the first run's (None: all the tests, at once)
    selected: tuple[str, ...] | None = None
    failed: str = ""  # the test that killed it, if one did


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _Finder(ast.NodeVisitor):
    """Collects (anchor, shown, apply, description) for every mutation of a module's tree.

    ``apply()`` mutates the tree and returns the undo. The anchor is the node whose source is
    replaced, by the source of ``shown`` once mutated: the mutated node itself (or the node put
    in its place), or the f-string around it (whose parts have no reliable positions).
    """

    def __init__(self) -> None:
        self.found: list[tuple[ast.AST, ast.AST, Callable[[], Callable[[], None]], str]] = []
        self._fstring: ast.JoinedStr | None = None
        self._parents: dict[ast.AST, ast.AST] = {}

    # -- traversal ---------------------------------------------------------------------------
    def generic_visit(self, node: ast.AST) -> None:
        for field, value in ast.iter_fields(node):
            if field in ("annotation", "returns", "type_comment"):
                continue
            children = value if isinstance(value, list) else [value]
            for child in children:
                if isinstance(child, ast.AST) and not _is_docstring(child):
                    self._parents[child] = node
                    self.visit(child)

    def visit_Import(self, node: ast.Import) -> None:
        pass

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        pass

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        outer = self._fstring
        self._fstring = outer or node
        self.generic_visit(node)
        self._fstring = outer

    def _add(
        self,
        node: ast.AST,
        apply: Callable[[], Callable[[], None]],
        what: str,
        new: ast.AST | None = None,
    ) -> None:
        """A mutation of ``node``, or (with ``new``) ``node`` replaced by ``new``."""
        if self._fstring is not None:
            self.found.append((self._fstring, self._fstring, apply, what))
        else:
            self.found.append((node, new or node, apply, what))

    def _swap(self, parent: ast.AST, old: ast.AST, new: ast.AST) -> Callable[[], None]:
        for field, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, field, new)
                return lambda: setattr(parent, field, old)
            if isinstance(value, list) and any(v is old for v in value):
                index = next(i for i, v in enumerate(value) if v is old)
                value[index] = new
                return lambda: value.__setitem__(index, old)
        raise AssertionError("child not found in its parent")

    # -- statements --------------------------------------------------------------------------
    def _removals(self, body: list[ast.stmt]) -> None:
        for statement in body:
            if isinstance(statement, _REMOVABLE) and not _is_docstring(statement):
                self.found.append(
                    (statement, statement, _removed, f"removed `{_short(ast.unparse(statement))}`")
                )

    def visit_Module(self, node: ast.Module) -> None:
        self._removals(node.body)
        self.generic_visit(node)

    def _visit_block(self, node: ast.AST) -> None:
        for field in ("body", "orelse", "finalbody"):
            self._removals(getattr(node, field, []))
        for handler in getattr(node, "handlers", []):
            self._removals(handler.body)
        self.generic_visit(node)

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _visit_block
    visit_For = visit_While = visit_With = visit_Try = _visit_block

    def visit_If(self, node: ast.If) -> None:
        self._negate_condition(node, node.test)
        self._visit_block(node)

    def visit_IfExp(self, node: ast.IfExp) -> None:
        self._negate_condition(node, node.test)
        self.generic_visit(node)

    def visit_comprehension(self, node: ast.comprehension) -> None:
        for test in node.ifs:
            self._negate_condition(node, test)
        self.generic_visit(node)

    def _negate_condition(self, parent: ast.AST, test: ast.expr) -> None:
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            return  # removing the `not` is the same mutant
        if (
            isinstance(test, ast.Compare)
            and len(test.ops) == 1
            and type(test.ops[0]) in (ast.Eq, ast.NotEq, ast.In, ast.NotIn, ast.Is, ast.IsNot)
        ):
            return  # flipping the operator is the same mutant
        negated = ast.UnaryOp(op=ast.Not(), operand=test)
        self._add(
            test,
            lambda: self._swap(parent, test, negated),
            f"`{_short(ast.unparse(test))}` → `not (...)`",
            negated,
        )

    # -- expressions -------------------------------------------------------------------------
    def visit_Compare(self, node: ast.Compare) -> None:
        for index, op in enumerate(node.ops):
            flipped = _COMPARE.get(type(op))
            if flipped is not None:
                self._add(
                    node,
                    _replace_in(node.ops, index, flipped()),
                    f"`{_SYMBOL[type(op)]}` → `{_SYMBOL[flipped]}`",
                )
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        other = _BINARY.get(type(node.op))
        if other is not None and not _is_string_format(node):
            self._add(
                node,
                _set_attr(node, "op", other()),
                f"`{_SYMBOL[type(node.op)]}` → `{_SYMBOL[other]}`",
            )
        self.generic_visit(node)

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        other = _BOOLEAN[type(node.op)]
        self._add(
            node, _set_attr(node, "op", other()), f"`{_SYMBOL[type(node.op)]}` → `{_SYMBOL[other]}`"
        )
        self.generic_visit(node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> None:
        if isinstance(node.op, ast.Not):
            parent = self._parents[node]
            self._add(
                node,
                lambda: self._swap(parent, node, node.operand),
                f"removed `not` of `{_short(ast.unparse(node.operand))}`",
                node.operand,
            )
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        value = node.value
        new: object
        if isinstance(value, bool):
            new = not value
        elif value is None:
            new = ""
        elif isinstance(value, (int, float)):
            new = value + 1
        elif isinstance(value, str):
            new = f"XX{value}XX"
        else:
            return
        what = f"`{_short(repr(value))}` → `{_short(repr(new))}`"
        self._add(node, _set_attr(node, "value", new), what)


def _is_docstring(statement: ast.AST) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and (isinstance(statement.value.value, str))
    )


def _is_string_format(node: ast.BinOp) -> bool:
    return isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Constant)


def _removed() -> Callable[[], None]:
    return lambda: None


def _set_attr(node: ast.AST, name: str, new: object) -> Callable[[], Callable[[], None]]:
    def apply() -> Callable[[], None]:
        old = getattr(node, name)
        setattr(node, name, new)
        return lambda: setattr(node, name, old)

    return apply


def _replace_in(
    items: list[ast.cmpop], index: int, new: ast.cmpop
) -> Callable[[], Callable[[], None]]:
    def apply() -> Callable[[], None]:
        old = items[index]
        items[index] = new
        return lambda: items.__setitem__(index, old)

    return apply


def mutants(source: str) -> list[Mutant]:
    """Every mutant of a module's source, in source order."""
    tree = ast.parse(source)
    finder = _Finder()
    finder.visit(tree)
    data = source.encode()
    lines = source.splitlines()
    starts = [0]
    for line in data.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    statements, in_functions = _statements(tree), _in_functions(tree)
    found: list[Mutant] = []
    for anchor, shown, apply, what in finder.found:
        assert isinstance(anchor, (ast.expr, ast.stmt))
        start = starts[anchor.lineno - 1] + anchor.col_offset
        assert anchor.end_lineno is not None and anchor.end_col_offset is not None
        end = starts[anchor.end_lineno - 1] + anchor.end_col_offset
        if apply is _removed:  # the only mutation of a statement
            replacement = b"pass"
        else:
            restore = apply()
            replacement = f"({ast.unparse(shown)})".encode()
            restore()
        code = _short(lines[anchor.lineno - 1], 70)
        runs_on = frozenset[int]()
        if id(anchor) in in_functions:
            runs_on = _lines_running(anchor, statements[id(anchor)])
        found.append(Mutant(0, anchor.lineno, what, code, start, end, replacement, runs_on))
    found.sort(key=lambda m: (m.start, m.end))
    return [dataclasses.replace(m, number=n) for n, m in enumerate(found, 1)]


def _statements(tree: ast.Module) -> dict[int, ast.stmt]:
    """Each node's innermost statement, by the node's ``id``."""
    innermost: dict[int, ast.stmt] = {}
    for statement in ast.walk(tree):  # outer statements first: inner ones overwrite them
        if isinstance(statement, ast.stmt):
            innermost.update((id(node), statement) for node in ast.walk(statement))
    return innermost


def _in_functions(tree: ast.Module) -> set[int]:
    """The nodes in functions' bodies (not their defaults or decorators), by their ``id``."""
    inside: set[int] = set()
    for function in ast.walk(tree):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            inside.update(id(node) for statement in function.body for node in ast.walk(statement))
        elif isinstance(function, ast.Lambda):
            inside.update(id(node) for node in ast.walk(function.body))
    return inside


def _lines_running(anchor: ast.expr | ast.stmt, statement: ast.stmt) -> frozenset[int]:
    """The lines of which one at least runs when ``anchor`` does."""
    assert anchor.end_lineno is not None and statement.end_lineno is not None
    if hasattr(statement, "body"):  # a compound statement: its header, and the anchor
        return frozenset({statement.lineno, *range(anchor.lineno, anchor.end_lineno + 1)})
    return frozenset(range(statement.lineno, statement.end_lineno + 1))


# -------------------------------------------------------------------------------------------------
# Choosing each mutant's tests: those that ran its lines in the unmutated run
# -------------------------------------------------------------------------------------------------
PLUGIN = "mutation_coverage"  # scripts/mutation_coverage.py, a pytest plugin


@dataclass(frozen=True)
class Coverage:
    """What ran each line of the module in the unmutated run (read from the plugin's output):
    ``""`` no test (an import), ``fixture:NAME`` a fixture shared by tests, else a test."""

    lines: dict[int, frozenset[str]]
    tests: tuple[str, ...]  # node ids, in the order run
    fixtures: dict[str, frozenset[str]]  # each test's fixtures

    @classmethod
    def read(cls, path: Path) -> Coverage:
        data = json.loads(path.read_text())
        return cls(
            lines={int(n): frozenset(ran) for n, ran in data["lines"].items()},
            tests=tuple(t["id"] for t in data["tests"]),
            fixtures={t["id"]: frozenset(t["fixtures"]) for t in data["tests"]},
        )

    def tests_for(self, mutant: Mutant) -> tuple[str, ...] | None:
        """The tests that ran the mutant's lines, in the order run; None (all the tests) if no
        test did, or if they run on import (whose result every test may use)."""
        ran = frozenset().union(*(self.lines.get(n, frozenset()) for n in mutant.runs_on))
        if not ran or "" in ran:
            return None
        shared = {c.removeprefix("fixture:") for c in ran if c.startswith("fixture:")}
        return tuple(t for t in self.tests if t in ran or shared & self.fixtures[t])


# -------------------------------------------------------------------------------------------------
# Running
# -------------------------------------------------------------------------------------------------
def _copy(root: Path, into: Path) -> Path:
    copy = into / root.name
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns(*IGNORED), symlinks=True)
    for name in LINKED:
        if (root / name).exists():
            (copy / name).symlink_to((root / name).resolve())
    return copy


_RUNNING: set[subprocess.Popen[bytes]] = set()  # killed when the run is interrupted


@dataclass(frozen=True)
class Outcome:
    """How one run of the tests ended."""

    status: Status
    seconds: float
    failed: str = ""  # the first test that failed, as pytest's summary names it


def _pytest(
    copy: Path, tests: Sequence[str], timeout: float | None, measure: Path | None = None
) -> Outcome:
    """Run ``tests`` in ``copy`` with a temporary directory of their own, removed after them;
    with ``measure`` (a module of the copy), write what ran its lines to ``measure.json`` beside
    the copy."""
    plugin: dict[str, str] = {}
    if measure is not None:
        plugin = {
            "PYTHONPATH": os.pathsep.join([str(SCRIPTS), *filter(None, [os.getenv("PYTHONPATH")])]),
            "MUTATION_COVERAGE_FILE": str(measure.resolve()),
            "MUTATION_COVERAGE_OUT": str(copy.parent / "measure.json"),
        }
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-x",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
        *(["-p", PLUGIN] if measure is not None else []),
        *tests,
    ]
    # Cleanup errors are left to the removal of the whole run's copies.
    with tempfile.TemporaryDirectory(
        prefix="tmp-", dir=copy.parent, ignore_cleanup_errors=True
    ) as temp:
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **_temp_env(temp), **plugin}
        output = Path(temp + ".out")  # beside it: the tests find their directory empty
        try:
            began = time.monotonic()
            code = _exit_code(command, copy, env, timeout, output)
            seconds = time.monotonic() - began
            failed = _first_failed(output.read_text(errors="replace"))
        finally:
            output.unlink(missing_ok=True)
        return Outcome(_status(code), seconds, failed)


def _first_failed(output: str) -> str:
    """The test that failed first in pytest's output (its short summary), or ""."""
    found = re.search(r"^(?:FAILED|ERROR) (\S+)", output, re.MULTILINE)
    return found[1] if found else ""


def _temp_env(directory: str) -> dict[str, str]:
    """The variables naming the temporary directory (``tempfile.gettempdir()`` reads them)."""
    return dict.fromkeys(("TMPDIR", "TEMP", "TMP"), directory)


def _exit_code(
    command: Sequence[str],
    cwd: Path,
    env: dict[str, str],
    timeout: float | None,
    output: Path,
) -> int | None:
    """The command's exit code, or None if it was stopped after ``timeout`` seconds; what it
    prints goes to ``output``."""
    with (
        output.open("wb") as out,
        subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        ) as process,
    ):
        _RUNNING.add(process)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill(process)
            return None
        finally:
            _RUNNING.discard(process)


def _status(code: int | None) -> Status:
    """What pytest's exit code says of a mutant: 0 its tests passed, 1 one failed."""
    if code is None:
        return "timeout"
    if code == 0:
        return "survived"
    return "killed" if code == 1 else "error"


def _kill(process: subprocess.Popen[bytes]) -> None:
    """Kill pytest and whatever it started (its own session)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def run(
    module: str,
    tests: Sequence[str],
    *,
    root: Path = ROOT,
    jobs: int = 1,
    only: set[int] | None = None,
    timeout: float | None = None,
    select: bool = True,
    confirm: bool = True,
    log: Callable[[str], None] = print,
) -> tuple[list[Result], float]:
    """Run the mutants of ``module`` (a path under ``root``) against ``tests``.

    With ``select``, a mutant runs first against the tests that ran its lines in the unmutated
    run (measured with coverage.py), and, with ``confirm``, a mutant they do not kill against all
    the tests: a survivor has survived all of them (without ``confirm``, a kill the chosen tests
    miss counts as a survivor: the figure may only be lower). A mutant's tests are stopped after
    ``timeout`` seconds (default: 3 x the unmutated run + 10).
    """
    original = (root / module).read_bytes()
    chosen = [m for m in mutants(original.decode()) if only is None or m.number in only]
    with tempfile.TemporaryDirectory(prefix="mutation-") as scratch:
        copies = [_copy(root, Path(scratch) / str(j)) for j in range(max(1, jobs))]
        measure = copies[0] / module if select else None
        unmutated = _pytest(copies[0], tests, None, measure)
        baseline = unmutated.seconds
        if unmutated.status != "survived":
            raise SystemExit(f"the tests fail without any mutation: {' '.join(tests)}")
        ran = Coverage.read(copies[0].parent / "measure.json") if select else None
        timeout = timeout or 3 * baseline + 10
        log(
            f"{len(chosen)} mutants of {module}; unmutated tests: {baseline:.1f} s, "
            f"timeout {timeout:.0f} s"
        )
        free = list(copies)
        lock = threading.Lock()

        def one(mutant: Mutant) -> Result:
            with lock:
                copy = free.pop()
            selected = ran.tests_for(mutant) if ran else None
            try:
                (copy / module).write_bytes(mutant.apply(original))
                runs = [_pytest(copy, selected, timeout)] if selected else []
                if not runs or (runs[0].status == "survived" and confirm):
                    runs.append(_pytest(copy, tests, timeout))
                outcome, seconds = runs[-1], sum(r.seconds for r in runs)
            finally:
                (copy / module).write_bytes(original)
                with lock:
                    free.append(copy)
            shown = f"{len(selected)} tests" if selected else "all tests"
            by = f" by {outcome.failed}" if outcome.failed else ""
            log(
                f"  #{mutant.number} {module}:{mutant.line} {mutant.mutation}: "
                f"{outcome.status}{by} ({shown}, {seconds:.1f} s)"
            )
            return Result(mutant, outcome.status, seconds, selected, outcome.failed)

        pool = concurrent.futures.ThreadPoolExecutor(max_workers=len(copies))
        try:
            results = list(pool.map(one, chosen))
        finally:  # when interrupted: no further mutant, the running ones stopped
            pool.shutdown(wait=False, cancel_futures=True)
            for process in list(_RUNNING):
                _kill(process)
            pool.shutdown(wait=True)
    return results, baseline


def report(module: str, tests: Sequence[str], results: Sequence[Result]) -> str:
    counts = _tally(results)
    total = sum(counts.values())
    killed = total - counts["survived"]
    rate = f"{100 * killed / total:.1f}%" if total else "n/a"
    outcomes = ", ".join(f"{counts[status]} {words}" for status, words in STATUSES.items())
    lines = [
        f"Mutation testing of `{module}` with `{' '.join(tests)}`:",
        "",
        f"{total} mutants run: {outcomes}.",
        f"Killed {killed} of {total} ({rate}).",
        "",
    ]
    survivors = [r.mutant for r in results if r.status == "survived"]
    if survivors:
        lines += ["| # | where | mutation | in |", "|---|---|---|---|"]
        lines += [
            f"| {m.number} | {module}:{m.line} | {_cell(m.mutation)} | `{_cell(m.code)}` |"
            for m in survivors
        ]
    return "\n".join(lines) + "\n"


def _tally(results: Sequence[Result]) -> dict[Status, int]:
    """How many mutants ended in each status, every status named (0 if none did)."""
    return {status: sum(r.status == status for r in results) for status in STATUSES}


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _numbers(text: str) -> set[int]:
    chosen: set[int] = set()
    for part in text.split(","):
        low, _, high = part.partition("-")
        chosen.update(range(int(low), int(high or low) + 1))
    return chosen


# -------------------------------------------------------------------------------------------------
# docs/mutation.md's table of figures
# -------------------------------------------------------------------------------------------------
FIGURES = Path("docs/mutation.md")  # under the root
FIGURES_HEADER = ("module", "mutants", "figure", "equivalent", "measured on")
NOT_MEASURED = "not yet measured"
_FIGURE = re.compile(
    rf"\| `(?P<module>[^`|]+)` \| (?P<mutants>\d+) \| (?:{NOT_MEASURED} \| - \| -|"
    r"(?P<killed>\d+) of (?P<total>\d+) \| (?P<equivalent>\d+) \| (?P<commit>[0-9a-f]{7,40})) \|"
)


@dataclass(frozen=True)
class Figure:
    """A row of the table: the mutants the tool lists for a module and, once measured, how many
    were killed, how many of the survivors are equivalent, and the commit measured."""

    module: str
    mutants: int
    killed: int | None = None
    equivalent: int | None = None
    commit: str | None = None

    def row(self) -> str:
        measured = (
            [f"{self.killed} of {self.mutants}", str(self.equivalent), str(self.commit)]
            if self.killed is not None
            else [NOT_MEASURED, "-", "-"]
        )
        return _row([f"`{self.module}`", str(self.mutants), *measured])


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def figures(text: str) -> dict[str, Figure]:
    """The table of figures of docs/mutation.md's ``text``, by module (ValueError if it has none,
    or a row that is not a figure of the row's mutants)."""
    lines = text.splitlines()
    header = _row(FIGURES_HEADER)
    if header not in lines:
        raise ValueError(f"no table of figures: no line {header}")
    start = lines.index(header) + 2  # the header, then |---|...
    rows = itertools.takewhile(lambda line: line.startswith("|"), lines[start:])
    return {figure.module: figure for figure in map(_figure, rows)}


def _figure(row: str) -> Figure:
    cells = [cell.strip() for cell in row.strip().strip("|").split("|")]
    match = _FIGURE.fullmatch(_row(cells))
    if match is None:
        raise ValueError(
            f"not a row of the table of figures: {row} (a row is `| `module` | N | K of N | "
            f"equivalent | commit |` or `| `module` | N | {NOT_MEASURED} | - | - |`)"
        )
    mutants = int(match["mutants"])
    if match["killed"] is None:
        return Figure(match["module"], mutants)
    killed, equivalent = int(match["killed"]), int(match["equivalent"])
    if int(match["total"]) != mutants or equivalent > mutants - killed:
        raise ValueError(
            f"K of N must count the row's {mutants} mutants, and its equivalent ones no more "
            f"than the N - K survivors: {row}"
        )
    return Figure(match["module"], mutants, killed, equivalent, match["commit"])


def counted_figures(root: Path) -> str:
    """The table of figures with today's mutant counts, a row for each module of DEFAULT_TESTS: its
    figure kept while the count is the one it was measured on, else not yet measured."""
    recorded = figures((root / FIGURES).read_text())
    rows = [_row(FIGURES_HEADER), "|" + "---|" * len(FIGURES_HEADER)]
    for module in DEFAULT_TESTS:
        count = len(mutants((root / module).read_text()))
        kept = recorded.get(module)
        rows.append((kept if kept and kept.mutants == count else Figure(module, count)).row())
    return "\n".join(rows) + "\n"


# -------------------------------------------------------------------------------------------------
# The command
# -------------------------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("module", nargs="?", help="the module's path, relative to --root")
    parser.add_argument(
        "--tests",
        nargs="+",
        help="test files or ids (default: the module's fast tests, see DEFAULT_TESTS)",
    )
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository (default: this)")
    parser.add_argument("--jobs", "-j", type=int, default=1, help="mutants run in parallel")
    parser.add_argument(
        "--timeout", type=float, help="seconds per mutant (default: 3 x the unmutated run + 10)"
    )
    parser.add_argument("--only", type=_numbers, help="mutant numbers, e.g. 3,7,10-12")
    parser.add_argument(
        "--every", type=int, default=1, help="a sample: every n-th mutant (1, 1 + n, 1 + 2n, ...)"
    )
    parser.add_argument(
        "--all-tests",
        action="store_true",
        help="run every mutant against all the tests (default: those that ran its lines first)",
    )
    parser.add_argument(
        "--no-confirm",
        action="store_true",
        help="a survivor of the tests that ran its lines is not run against all the tests "
        "(faster; a kill only those would miss counts as a survivor)",
    )
    parser.add_argument("--list", action="store_true", help="list the mutants and stop")
    parser.add_argument("--report", type=Path, help="also write the report to this file")
    parser.add_argument(
        "--counts",
        action="store_true",
        help=f"print {FIGURES}'s table of figures with today's mutant counts, and stop",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.counts:
        try:
            print(counted_figures(args.root), end="")
        except ValueError as bad:
            parser.error(f"{FIGURES}: {bad}")
        return 0
    if args.module is None:
        parser.error("name the module (or ask for --counts)")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up as on Ctrl-C
    module = Path(args.module).as_posix()
    found = mutants((args.root / module).read_text())
    unknown = sorted((args.only or set()) - {m.number for m in found})
    if unknown:
        parser.error(f"{module} has {len(found)} mutants, no #{', #'.join(map(str, unknown))}")
    chosen = {m.number for m in found[:: args.every] if args.only is None or m.number in args.only}
    if args.list:
        for m in found:
            if m.number in chosen:
                print(f"#{m.number} {module}:{m.line} {m.mutation}")
        return 0
    tests = args.tests or DEFAULT_TESTS.get(module)
    if not tests:
        parser.error(f"no default tests for {module}: name them with --tests")
    results, _ = run(
        module,
        tests,
        root=args.root,
        jobs=args.jobs,
        only=chosen,
        timeout=args.timeout,
        select=not args.all_tests,
        confirm=not args.no_confirm,
        log=lambda text: print(text, file=sys.stderr, flush=True),
    )
    text = report(module, tests, results)
    print(text, end="")
    if args.report:
        args.report.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
