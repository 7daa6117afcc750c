"""What the library keeps on the Python side to spare jsii round trips (its memos, CONTRIBUTING.md)
is what ``benchmarks/synth.py --memos`` measures and docs/benchmarks.md's table defends: each
per-object table (a ``WeakKeyDictionary``) and each cached function of the construct modules is
either a memo with its row, or named below as the library's own state or a cache of no jsii value.
From the syntax tree alone: nothing is imported or synthesized."""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.fast  # the loop on every change (CONTRIBUTING.md)

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = ROOT / "constructs" / "cdk_ota_update"
TABLE_HEADING = "### What is kept on the Python side, memo by memo"

# Tables and caches that are no memo: the library's own per-stack state (dropping it would change
# what is built), and caches of values computed in Python (no jsii call to spare).
NOT_MEMOS = {
    "_cdk._CHECKS": "the stack's one validation and its checks",
    "policy._PLANNERS": "the stack's policy planner",
    "role._SERVICE_ROLES": "the service roles bound per stack",
    "ota_update._StackOtaUpdates._OF": "the OtaUpdates of each stack",
    "api._service_model": "botocore's model",
    "api._model_data": "botocore's model",
    "api._contract_model": "botocore's model, cut to the contract",
    "api.rollout_gate_shape": "a botocore shape",
    "policy._pseudo_parameters": "lengths computed from botocore's partitions",
    "policy.longest": "a length computed in Python",
    "policy._skeleton_size": "a length computed in Python",
    "provider.asset_dir": "the Lambda asset's folder on disk",
}


def _benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location("synth_benchmark", ROOT / "benchmarks/synth.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cached(node: ast.FunctionDef) -> bool:
    names = {
        d.func if isinstance(d, ast.Call) else d for d in node.decorator_list
    }  # @cache, @functools.cache, @lru_cache(...)
    return any(
        (isinstance(n, ast.Name) and n.id in {"cache", "lru_cache"})
        or (isinstance(n, ast.Attribute) and n.attr in {"cache", "lru_cache"})
        for n in names
    )


def _table(value: ast.expr | None) -> bool:
    return (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Attribute)
        and value.func.attr == "WeakKeyDictionary"
    )


def _found(body: list[ast.stmt], prefix: str) -> set[str]:
    found: set[str] = set()
    for node in body:
        if isinstance(node, ast.FunctionDef) and _cached(node):
            found.add(prefix + node.name)
        elif isinstance(node, ast.ClassDef):
            found |= _found(node.body, f"{prefix}{node.name}.")
        elif isinstance(node, ast.Assign | ast.AnnAssign) and _table(node.value):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            found |= {prefix + t.id for t in targets if isinstance(t, ast.Name)}
    return found


def _in_the_code() -> set[str]:
    found: set[str] = set()
    for path in sorted(LIBRARY.glob("*.py")):
        found |= _found(ast.parse(path.read_text()).body, f"{path.stem}.")
    return found


def _in_the_docs() -> set[str]:
    text = (ROOT / "docs" / "benchmarks.md").read_text()
    section = text.split(TABLE_HEADING, 1)[1].split("\n\n|", 1)[1].split("\n\n", 1)[0]
    return {m.group(1) for m in re.finditer(r"^\| `([\w.]+)` \|", "|" + section, re.MULTILINE)}


def test_the_finder_sees_the_tables_and_caches() -> None:
    assert {"_cdk._STACKS", "_cdk.pseudo", "ota_update._StackOtaUpdates._OF"} <= _in_the_code()


def test_each_table_or_cache_is_a_measured_memo_or_named_as_none() -> None:
    memos = set(_benchmark().MEMOS)
    assert not memos & set(NOT_MEMOS)
    assert _in_the_code() == memos | set(NOT_MEMOS), (
        "a table or cached function of the library is neither a memo of "
        "benchmarks/synth.py's MEMOS nor in NOT_MEMOS (or one of them is gone): a memo is kept "
        "only where a row of `benchmarks/synth.py --memos` shows the saving (CONTRIBUTING.md)"
    )


def test_each_memo_has_its_row_in_the_docs() -> None:
    assert _in_the_docs() == set(_benchmark().MEMOS)
