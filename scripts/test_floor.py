"""The construct, emulation and rehearsal tests against the lowest versions pyproject.toml allows
(and Python's floor).

Its dependencies and its ``[testing]`` extra are installed at their lower bounds.

    python3 scripts/test_floor.py [pytest args]

Reads ``[project] dependencies``, the ``[testing]`` extra and ``requires-python`` from
pyproject.toml, makes ``.venv-floor`` with each of them at its lower bound (``name>=X`` installed
as ``name==X``), on the oldest Python that ``requires-python`` admits and pyenv has (else this
interpreter, said so), and runs the tests that exercise the constructs with the CDK, the moto
emulation (``cdk_ota_update.testing``) and ``cdk-ota-update rehearse`` on stacks of their own.
Left out: snapshot tests (a whole-template snapshot is pinned to the CDK version of
requirements.txt) and the tests that synthesize app.py: it imports cdk-nag, no dependency of the
package, and the cdk-nag requirements.txt pins needs a newer aws-cdk-lib than the floor.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import tomllib

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv-floor"
TESTS = [
    "tests/construct/test_construct.py",
    "tests/construct/test_validation.py",
    "tests/construct/test_synth_checks.py",
    "tests/construct/test_derived_id.py",
    "tests/construct/test_import_existing.py",
    "tests/construct/test_provider_options.py",
    "tests/emulation/test_emulation.py",
    "tests/emulation/test_strict_iam.py",
    "tests/rehearse/test_rehearse_stacks.py",
]
# Test tools: pytest as requirements.txt pins it; syrupy (imported by the construct tests) at
# what the floor Python can run (its newest releases need Python 3.11).
TOOLS = ("pytest",)
UNPINNED_TOOLS = ["syrupy"]


def floors(project: dict[str, Any]) -> list[str]:
    """Each dependency at its lower bound (or its pinned version)."""
    pinned = []
    extras = project["optional-dependencies"]["testing"]
    for requirement in [*project["dependencies"], *extras]:
        match = re.match(r"([A-Za-z0-9_.\[\]-]+)\s*(?:>=|==)\s*([^,;\s]+)", requirement)
        if match is None:
            raise SystemExit(f"pyproject.toml: {requirement!r} has no lower bound to test")
        pinned.append(f"{match.group(1)}=={match.group(2)}")
    return pinned


def tools() -> list[str]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    pinned = [line for line in lines if line.split("==")[0].split("[")[0] in TOOLS]
    return [*pinned, *UNPINNED_TOOLS]


def oldest_python(requires: str) -> str:
    """The oldest installed Python that ``requires-python`` (``>=3.X``) admits."""
    minor = re.match(r">=\s*3\.(\d+)", requires)
    pyenv = shutil.which("pyenv")
    if minor and pyenv:
        versions = subprocess.run(
            [pyenv, "versions", "--bare"], capture_output=True, text=True
        ).stdout.split()
        root = subprocess.run([pyenv, "root"], capture_output=True, text=True).stdout.strip()
        candidates = sorted(
            (tuple(int(p) for p in v.split(".")), v)
            for v in versions
            if re.fullmatch(r"3\.\d+\.\d+", v) and int(v.split(".")[1]) >= int(minor.group(1))
        )
        for _, version in candidates:
            python = Path(root) / "versions" / version / "bin" / "python3"
            if python.exists():
                return str(python)
    print(f"test_floor: no older Python found, using {sys.executable}", flush=True)
    return sys.executable


def main() -> int:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [*floors(project), *tools()]
    python = oldest_python(project["requires-python"])
    stamp = hashlib.sha256("\n".join([python, *requirements]).encode()).hexdigest()
    if (VENV / ".stamp").read_text() != stamp if (VENV / ".stamp").exists() else True:
        shutil.rmtree(VENV, ignore_errors=True)
        subprocess.run([python, "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [
                str(VENV / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                *requirements,
            ],
            check=True,
        )
        (VENV / ".stamp").write_text(stamp)
    version = subprocess.run(
        [str(VENV / "bin" / "python"), "--version"], capture_output=True, text=True
    ).stdout.strip()
    print(f"test_floor: {version}, {' '.join(requirements)}", flush=True)
    env = {
        **os.environ,
        "PATH": f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ['PATH']}",
    }
    return subprocess.run(
        [
            str(VENV / "bin" / "python"),
            "-m",
            "pytest",
            *TESTS,
            "-k",
            "not snapshot",
            "-p",
            "no:cacheprovider",
            "-q",
            *sys.argv[1:],
        ],
        cwd=ROOT,
        env=env,
    ).returncode


if __name__ == "__main__":
    raise SystemExit(main())
