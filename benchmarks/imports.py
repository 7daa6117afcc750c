"""Import times, side by side in one run (results in docs/benchmarks.md).

    .venv/bin/python benchmarks/imports.py [--runs 15]

Each import runs in a fresh interpreter (``python -X importtime``-free wall clock of
``python -c 'import X'`` minus a bare ``python -c pass``), alternating between the candidates so
that the machine's noise hits them alike; the medians and the ratio to moto's IoT backend are
printed as a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in ("constructs", "lambda_handler")),
}

CANDIDATES = {
    "bare interpreter": "pass",
    "moto's IoT backend (`import moto.iot.models`)": "import moto.iot.models",
    "`from cdk_ota_update import testing`": "from cdk_ota_update import testing",
    "`from cdk_ota_update import api`": "from cdk_ota_update import api",
    "the handler (`import index`)": "import index",
    "the constructs (`... import OtaUpdate`)": "from cdk_ota_update import OtaUpdate",
}
BASELINE = "moto's IoT backend (`import moto.iot.models`)"


def _seconds(statement: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", statement],
        env=ENV,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    times: dict[str, list[float]] = {name: [] for name in CANDIDATES}
    for _ in range(runs):
        for name, statement in CANDIDATES.items():
            times[name].append(_seconds(statement))
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"| import ({runs} runs, fresh interpreter each) | median | ratio to moto's IoT |")
    print("|---|---|---|")
    for name, median in medians.items():
        print(f"| {name} | {median * 1000:.0f} ms | {median / medians[BASELINE]:.2f} |")


if __name__ == "__main__":
    main()
