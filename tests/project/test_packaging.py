"""The distributions: an sdist and a wheel (built from that sdist) that pass ``twine check``,
hold what they must, state the supported versions the README states, and work outside the
repository: an example app synthesized from the installed wheel in a fresh venv."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
import tomllib
from app_support import ROOT, build_distributions, fresh_venv_with, lambda_asset

from cdk_ota_update.testing.moto_requirement import MOTO_REQUIREMENT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
VERSION: str = PYPROJECT["version"]


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Neither --sdist nor --wheel: build makes the sdist, then the wheel from the unpacked sdist,
    # so the wheel also proves that the sdist is complete.
    return build_distributions(tmp_path_factory.mktemp("build"))


@pytest.fixture(scope="module")
def sdist_files(dist: Path) -> set[str]:
    (sdist,) = dist.glob("*.tar.gz")
    assert sdist.name == f"cdk_ota_update-{VERSION}.tar.gz"
    with tarfile.open(sdist) as archive:
        return {name.partition("/")[2] for name in archive.getnames()}


@pytest.fixture(scope="module")
def wheel(dist: Path) -> Path:
    (built,) = dist.glob("*.whl")
    assert built.name == f"cdk_ota_update-{VERSION}-py3-none-any.whl"
    return built


def test_twine_check_passes_on_both(dist: Path) -> None:
    files = sorted(dist.iterdir())
    result = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, files)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("PASSED") == len(files) == 2


def test_the_sdist_holds_the_sources_tests_and_documents(sdist_files: set[str]) -> None:
    assert {
        "pyproject.toml",
        "README.md",
        "CHANGELOG.md",
        "LICENSE",
        "requirements.txt",
        "package.json",
        "constructs/cdk_ota_update/api.py",
        "constructs/cdk_ota_update/testing/backend.py",
        "lambda_handler/index.py",
        "lambda_handler/lifecycle.py",
        "tests/conftest.py",
        "tests/project/test_packaging.py",
        "docs/deploy.md",
        "examples/custom_signing/firmware/doorlock-fw.bin.sig",
        "firmware/sensor-fw.bin",
    } <= sdist_files
    assert not [f for f in sdist_files if "__pycache__" in f or f.endswith(".pyc")]


def test_the_wheel_holds_the_library_its_handler_and_the_emulation(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = Parser().parsestr(
            archive.read(f"cdk_ota_update-{VERSION}.dist-info/METADATA").decode()
        )
    assert {
        "cdk_ota_update/__init__.py",
        "cdk_ota_update/api.py",
        "cdk_ota_update/py.typed",
        "cdk_ota_update/_handler/index.py",
        "cdk_ota_update/_handler/lifecycle.py",
        "cdk_ota_update/_handler/crhelper/resource_helper.py",  # vendored, with its licence
        "cdk_ota_update/_handler/crhelper/LICENSE",
        "cdk_ota_update/_handler/crhelper/NOTICE",
        "cdk_ota_update/testing/__init__.py",
        "cdk_ota_update/testing/backend.py",
        "cdk_ota_update/rollout.py",
        "cdk_ota_update/status/cli.py",
        f"cdk_ota_update-{VERSION}.dist-info/licenses/LICENSE",
    } <= names
    assert not [n for n in names if n.startswith(("tests/", "examples/", "lambda_handler/"))]
    assert metadata["Version"] == VERSION
    assert metadata["Requires-Python"] == PYPROJECT["requires-python"]
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata.get_all("Provides-Extra") == ["testing", "status"]
    requires = metadata.get_all("Requires-Dist") or []
    assert any(r.startswith("aws-cdk-lib") for r in requires)
    # `cdk-ota-update status` draws its progress bars with rich: an extra, not the constructs' cost
    assert [r for r in requires if r.startswith("rich")] == ['rich>=13.3; extra == "status"']
    assert not [r for r in requires if r.startswith("crhelper")]  # vendored: no install moves it


def _readme_row(name: str) -> list[str]:
    readme = (ROOT / "README.md").read_text()
    (row,) = re.findall(rf"^\| {re.escape(name)} \|(.*)\|$", readme, flags=re.MULTILINE)
    return [cell.strip() for cell in row.split("|")]


def test_the_readme_states_the_supported_versions_the_packaging_declares() -> None:
    pins = dict(
        line.split("==")
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    cli = json.loads((ROOT / "package.json").read_text())["devDependencies"]["aws-cdk"]
    (cdk_lib,) = [d for d in PYPROJECT["dependencies"] if d.startswith("aws-cdk-lib")]
    lowest_python = PYPROJECT["requires-python"].removeprefix(">=")
    lowest_cdk, highest_cdk = re.fullmatch(r"aws-cdk-lib>=([\d.]+),<(\d+)", cdk_lib).groups()  # type: ignore[union-attr]

    # CI tests the lower bounds (scripts/test_floor.py) and the pins.
    assert _readme_row("Python") == [
        f"{lowest_python} or newer",
        f"{lowest_python} and {sys.version_info.major}.{sys.version_info.minor}",
    ]
    assert _readme_row("aws-cdk-lib") == [
        f"{lowest_cdk} or newer, below {highest_cdk}",
        f"{lowest_cdk} and {pins['aws-cdk-lib']}",
    ]
    assert _readme_row("AWS CDK CLI (`aws-cdk` on npm)") == [f"{cli} or newer", cli]
    classifiers = [
        c.rpartition(":: ")[2]
        for c in PYPROJECT["classifiers"]
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    ]
    assert classifiers[0] == lowest_python


def test_the_testing_extra_requires_the_moto_the_emulation_checks_for() -> None:
    assert MOTO_REQUIREMENT in PYPROJECT["optional-dependencies"]["testing"]


def test_the_changelog_has_a_section_for_this_version() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text()
    heading = "## Unreleased" if ".dev" in VERSION else f"## {VERSION}"
    assert re.search(rf"^{re.escape(heading)}$", changelog, flags=re.MULTILINE)


def _readme_example_command() -> list[str]:
    """The command the README gives for synthesizing a copied example, checked to name the CDK
    CLI that package.json pins."""
    readme = (ROOT / "README.md").read_text()
    (command,) = re.findall(r"run\s+`(npx --yes aws-cdk@[\d.]+ synth)` in its folder", readme)
    words: list[str] = command.split()
    cli = json.loads((ROOT / "package.json").read_text())["devDependencies"]["aws-cdk"]
    assert words[2] == f"aws-cdk@{cli}"
    return words


def test_an_example_synthesizes_from_the_installed_wheel_outside_the_repo(
    wheel: Path, tmp_path: Path
) -> None:
    python = fresh_venv_with(wheel, tmp_path / "venv")
    app = tmp_path / "custom_signing"
    shutil.copytree(ROOT / "examples" / "custom_signing", app)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PATH"] = os.pathsep.join([str(python.parent), env["PATH"]])  # python3 is the venv's

    result = subprocess.run(
        _readme_example_command(), cwd=app, env=env, capture_output=True, text=True
    )

    assert result.returncode == 0, result.stderr
    imported = subprocess.run(
        [str(python), "-c", "import cdk_ota_update; print(cdk_ota_update.__file__)"],
        cwd=app,
        env=env,
        capture_output=True,
        text=True,
    )
    assert imported.stdout.startswith(str(tmp_path / "venv"))  # the wheel, not the repository
    template = app / "cdk.out" / "DoorLockRelease.template.json"
    (ota,) = [
        r
        for r in json.loads(template.read_text())["Resources"].values()
        if r["Type"] == "Custom::OtaUpdate"
    ]
    assert ota["Properties"]["otaUpdateId"].startswith("DoorLockFirmware-")
    asset = lambda_asset(template)
    assert (asset / "index.py").is_file()
    assert (asset / "crhelper" / "__init__.py").is_file()
    assert (asset / "cdk_ota_update" / "api.py").read_bytes() == (
        ROOT / "constructs" / "cdk_ota_update" / "api.py"
    ).read_bytes()
