"""The example app (app.py): snapshot, determinism, security gates, the real CLI.

(The wheel, installed outside the repository, is tested in test_packaging.py.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from app_support import cfn_lint_errors, lambda_asset
from cdk_support import ROOT
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

STACK = "FirmwareRelease"


def synth_app(outdir: Path, cwd: Path) -> Path:
    """``python app.py`` as the CDK CLI runs it (CDK_OUTDIR), from ``cwd``."""
    env = {**os.environ, "CDK_OUTDIR": str(outdir)}
    subprocess.run(
        [sys.executable, str(ROOT / "app.py")], cwd=cwd, env=env, check=True, capture_output=True
    )
    return outdir


@pytest.fixture(scope="module")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synth_app(tmp_path_factory.mktemp("first") / "cdk.out", ROOT)


def template_of(outdir: Path, stack: str = STACK) -> dict[str, Any]:
    return json.loads((outdir / f"{stack}.template.json").read_text())  # type: ignore[no-any-return]


def test_template_matches_the_snapshot(assembly: Path, snapshot: SnapshotAssertion) -> None:
    assert template_of(assembly) == snapshot(extension_class=JSONSnapshotExtension)


def _assets(outdir: Path) -> dict[str, Any]:
    manifest = json.loads((outdir / f"{STACK}.assets.json").read_text())
    return {key: value["source"] for key, value in manifest["files"].items()}


def test_synth_is_byte_identical_in_another_directory(assembly: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    second = synth_app(tmp_path / "out", elsewhere)
    assert (second / f"{STACK}.template.json").read_bytes() == (
        assembly / f"{STACK}.template.json"
    ).read_bytes()
    assert _assets(second) == _assets(assembly)


def test_lambda_asset_holds_the_handler_crhelper_and_the_api_table_only(assembly: Path) -> None:
    asset = lambda_asset(assembly / f"{STACK}.template.json")
    files = {p.relative_to(asset).as_posix() for p in asset.rglob("*") if p.is_file()}
    assert {
        "index.py",
        "crhelper/__init__.py",
        "crhelper/resource_helper.py",
        "cdk_ota_update/__init__.py",
        "cdk_ota_update/api.py",
    } <= files
    assert not [f for f in files if f.endswith(".pyc") or "__pycache__" in f]
    for contract in ("__init__.py", "api.py"):  # the contract exactly as the wheel has it
        assert (asset / "cdk_ota_update" / contract).read_bytes() == (
            ROOT / "constructs" / "cdk_ota_update" / contract
        ).read_bytes()


def test_cdk_nag_aws_solutions_passes_with_only_justified_acknowledgements(
    assembly: Path,
) -> None:
    report = json.loads((assembly / "validation-report.json").read_text())
    # cdk-nag leaves acknowledged findings out itself: no report at all when nothing is left.
    for nag in [r for r in report["pluginReports"] if r["pluginName"] == "AwsSolutions"]:
        assert nag["conclusion"] == "success", nag["violations"]
        assert nag["violations"] == []
    metadata = json.loads((assembly / f"{STACK}.metadata.json").read_text())
    acknowledged = {
        rule: reason
        for entries in metadata.values()
        for entry in entries
        if entry["type"] == "aws:cdk:acknowledged-rules"
        for rule, reason in entry["data"].items()
    }
    assert any("AwsSolutions-IAM5[Resource::" in rule for rule in acknowledged)
    for rule, reason in acknowledged.items():
        assert len(reason) > 30, rule


def test_cfn_lint_reports_no_errors(assembly: Path) -> None:
    assert cfn_lint_errors([assembly / f"{STACK}.template.json"]) == []


def test_the_cdk_cli_synthesizes_the_app(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        ["npx", "--no-install", "cdk", "synth", "--quiet", "--output", str(tmp_path / "out")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "Resources" in template_of(tmp_path / "out")
