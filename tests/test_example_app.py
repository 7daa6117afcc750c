"""The example app (app.py): snapshot, determinism, security gates, the real CLI, the wheel."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from tests.cdk_support import ROOT

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


def _lambda_asset(outdir: Path, stack: str = STACK) -> Path:
    template = template_of(outdir, stack)
    (function,) = [
        r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"
    ]
    key = function["Properties"]["Code"]["S3Key"].removesuffix(".zip")
    return outdir / f"asset.{key}"


def test_lambda_asset_holds_the_handler_crhelper_and_the_api_table_only(assembly: Path) -> None:
    asset = _lambda_asset(assembly)
    files = {p.relative_to(asset).as_posix() for p in asset.rglob("*") if p.is_file()}
    assert {
        "index.py",
        "crhelper/__init__.py",
        "crhelper/resource_helper.py",
        "cdk_ota_update/__init__.py",
        "cdk_ota_update/api.py",
    } <= files
    assert not [f for f in files if f.endswith(".pyc") or "__pycache__" in f]
    assert (asset / "cdk_ota_update" / "api.py").read_bytes() == (
        ROOT / "constructs" / "cdk_ota_update" / "api.py"
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
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cfnlint",
            "--format",
            "parseable",
            str(assembly / f"{STACK}.template.json"),
        ],
        capture_output=True,
        text=True,
    )
    errors = [line for line in result.stdout.splitlines() if ":E" in line]
    assert errors == []
    assert result.returncode & 2 == 0, result.stdout + result.stderr


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


SMALL_APP = """
import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
import cdk_ota_update
from cdk_ota_update import FileLocation, OtaTarget, OtaUpdate, OtaUpdateFile

print(cdk_ota_update.__file__)
app = cdk.App()
stack = cdk.Stack(app, "Outside")
bucket = s3.Bucket.from_bucket_name(stack, "Fw", "fw-bucket")
OtaUpdate(stack, "Ota", targets=[OtaTarget.thing("t")],
          files=[OtaUpdateFile(file_location=FileLocation.from_bucket(bucket, "a.bin"))])
app.synth()
"""


def test_the_wheel_alone_synthesizes_an_app_outside_the_repo(tmp_path: Path) -> None:
    build = tmp_path / "src"
    shutil.copytree(
        ROOT,
        build,
        ignore=shutil.ignore_patterns(
            ".venv", "node_modules", "cdk.out", ".git", "build", "*.egg-info", "__pycache__"
        ),
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(tmp_path / "dist"),
            str(build),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("cdk_ota_update-*.whl")
    fresh = tmp_path / "venv"
    venv.create(fresh, with_pip=False)
    python = fresh / "bin" / "python"
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
    # The dependencies (aws-cdk-lib, crhelper, ...) come from the test environment, after the
    # fresh venv's own site-packages: the repo is nowhere on the path.
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    app = tmp_path / "outside"
    app.mkdir()
    (app / "app.py").write_text(SMALL_APP)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["CDK_OUTDIR"] = str(app / "cdk.out")
    result = subprocess.run(
        [str(python), "app.py"], cwd=app, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(str(site))
    asset = _lambda_asset(app / "cdk.out", "Outside")
    assert (asset / "index.py").is_file()
    assert (asset / "crhelper" / "__init__.py").is_file()
    assert (asset / "cdk_ota_update" / "api.py").is_file()
