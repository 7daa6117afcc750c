"""Helpers for tests of whole CDK apps: cfn-lint, and the built distributions in a fresh venv."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import venv
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# What a copy of the repository for a build leaves out (installed tools, outputs, caches).
NOT_SOURCES = shutil.ignore_patterns(
    ".venv", "node_modules", "cdk.out", ".git", "build", "dist", "*.egg-info", "__pycache__"
)


def cfn_lint_errors(templates: Iterable[Path], ignore: Iterable[str] = ()) -> list[str]:
    """cfn-lint's errors (not warnings) about the templates, one line each."""
    command = [str(Path(sys.executable).parent / "cfn-lint"), "--format", "parseable"]
    if ignore := list(ignore):
        command += ["--ignore-checks", *ignore]
    result = subprocess.run([*command, "--", *map(str, templates)], capture_output=True, text=True)
    errors = [line for line in result.stdout.splitlines() if ":E" in line]
    # Exit status: bit 1 an error, 2 an error, 4 warnings, 8 informational; anything else
    # (cfn-lint missing, a template it cannot read) is a failure of its own.
    if result.returncode & ~(2 | 4 | 8) or (result.returncode & 2 and not errors):
        errors.append(f"cfn-lint exited {result.returncode}: {result.stderr.strip()}")
    return errors


def build_distributions(tmp_path: Path, *kinds: str) -> Path:
    """``python -m build`` of a clean copy of the repository; the directory of the results."""
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCES)
    dist = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--no-isolation",
            *(f"--{k}" for k in kinds),
            "--outdir",
            str(dist),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    return dist


def fresh_venv_with(wheel: Path, where: Path) -> Path:
    """A new venv (outside the repository) with ``wheel`` installed; its python.

    The dependencies (aws-cdk-lib, constructs, ...) come from the test environment, after the
    fresh venv's own site-packages: the repository is nowhere on the path.
    """
    venv.create(where, with_pip=False)
    python = where / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--target",
            str(site),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def lambda_asset(template: Path) -> Path:
    """The staged asset directory of the (one) Lambda function of a synthesized template."""
    resources: dict[str, Any] = json.loads(template.read_text())["Resources"]
    (function,) = [r for r in resources.values() if r["Type"] == "AWS::Lambda::Function"]
    key = function["Properties"]["Code"]["S3Key"].removesuffix(".zip")
    return template.parent / f"asset.{key}"
