"""How many OtaUpdates one stack holds before its IAM policies stop fitting (issue 7's table).

For each layout (one thing group or one per OtaUpdate; keys ``fw-<i>.bin`` or
``releases/1.<i>.0/fw.bin`` in one bucket; default role; ``FileLocation.from_bucket``), synthesize
N OtaUpdates for N in coarse steps up to 400 and report the largest N whose policies are still
exact, the largest N that fits by grouping alone, and the largest N that synthesizes (grouped and,
where needed, spilled into managed policies).

    .venv/bin/python benchmarks/iam_scale.py                 # the table, ~2 min on 2 cores
    .venv/bin/python benchmarks/iam_scale.py --steps 10 50   # a quick look
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "constructs"), str(ROOT / "tests")]
_NODE_BIN = ROOT / "node_modules" / ".bin"
if (_NODE_BIN / "node").exists():
    os.environ["PATH"] = f"{_NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}"

import aws_cdk as cdk  # noqa: E402
from aws_cdk.assertions import Annotations, Match  # noqa: E402
from iam_support import fleet  # noqa: E402

from cdk_ota_update import OtaUpdateProvider, OtaUpdateServiceRole  # noqa: E402

STEPS = (5, 10, 20, 30, 40, 50, 75, 100, 150, 200, 300, 400)
LAYOUTS = {
    "one thing group, keys `fw-<i>.bin`": {"group_per_update": False, "per_release_keys": False},
    "one thing group, keys `releases/1.<i>.0/fw.bin`": {
        "group_per_update": False,
        "per_release_keys": True,
    },
    "a thing group per OtaUpdate, keys `fw-<i>.bin`": {
        "group_per_update": True,
        "per_release_keys": False,
    },
    "a thing group per OtaUpdate, keys `releases/1.<i>.0/fw.bin`": {
        "group_per_update": True,
        "per_release_keys": True,
    },
}


@dataclass
class Outcome:
    synthesizes: bool
    grouped: bool
    managed_policies: int


def synthesize(n: int, layout: dict[str, bool]) -> Outcome:
    app = cdk.App()
    stack = cdk.Stack(app, "Fleet")
    fleet(
        stack,
        n,
        signing=False,
        group_per_update=layout["group_per_update"],
        per_release_keys=layout["per_release_keys"],
    )
    try:
        app.synth()
    except RuntimeError:
        return Outcome(False, True, 0)
    warnings = Annotations.from_stack(stack).find_warning(
        "*", Match.string_like_regexp("resources are grouped")
    )
    managed = sum(
        1
        for owner in (OtaUpdateServiceRole.of(stack).policy, OtaUpdateProvider.of(stack).policy)
        for part in owner.parts
        if part.cfn_resource_type == "AWS::IAM::ManagedPolicy"
    )
    return Outcome(True, any("grouped (" in str(w.entry.data) for w in warnings), managed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, nargs="+", default=list(STEPS))
    args = parser.parse_args()
    started = time.monotonic()
    print(
        "| layout | largest N, exact | largest N, grouped | largest N that synthesizes "
        f"(of ≤ {max(args.steps)}) | managed policies at that N |"
    )
    print("|---|---|---|---|---|")
    for name, layout in LAYOUTS.items():
        exact = grouped = synthesized = 0
        spilled = 0
        for n in sorted(args.steps):
            outcome = synthesize(n, layout)
            if not outcome.synthesizes:
                break
            synthesized, spilled = n, outcome.managed_policies
            if not outcome.grouped:
                exact = n
            if not outcome.managed_policies:
                grouped = n
        print(f"| {name} | {exact} | {grouped} | {synthesized} | {spilled} |", flush=True)
    print(f"\n({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
