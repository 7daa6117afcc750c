"""The provider's Lambda asset is a function of this package alone: the crhelper it holds is the
release the handler vendors, whatever crhelper (if any) the user installed, so a user's snapshot
of the template (the asset hash in it) holds on a colleague's machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENDORED = ROOT / "lambda_handler" / "crhelper"
PRINT_ASSET = "from cdk_ota_update import provider; print(provider.asset_dir())"


def _install(site: Path, release: str) -> Path:
    """A crhelper of ``release`` in ``site`` (as pip would lay it out), its code not the vendored
    one's."""
    package = site / "crhelper"
    package.mkdir(parents=True)
    for source in VENDORED.glob("*.py"):
        (package / source.name).write_text(f"# crhelper {release}\n" + source.read_text())
    return site


def _asset_built_with(site: Path, tmp: Path) -> Path:
    """The asset folder a synth lays out in a new process whose ``sys.path`` has ``site``."""
    tmp.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": f"{site}{os.pathsep}{ROOT / 'constructs'}",
        "TMPDIR": str(tmp),
    }
    out = subprocess.run(
        [sys.executable, "-c", PRINT_ASSET], env=env, capture_output=True, text=True, check=True
    )
    return Path(out.stdout.strip())


@pytest.fixture(scope="module")
def assets(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("installs")
    older = _asset_built_with(_install(root / "site-a", "2.0.11"), root / "tmp-a")
    newer = _asset_built_with(_install(root / "site-b", "2.0.13"), root / "tmp-b")
    return older, newer


def test_two_crhelper_installs_give_the_same_asset(assets: tuple[Path, Path]) -> None:
    older, newer = assets
    assert older.name == newer.name  # the folder is named by its content's digest
    assert older.parent != newer.parent


def test_the_asset_holds_the_vendored_crhelper_not_the_installed_one(
    assets: tuple[Path, Path],
) -> None:
    for asset in assets:
        bundled = sorted(p.name for p in (asset / "crhelper").iterdir())
        assert bundled == sorted(p.name for p in VENDORED.glob("*.py"))
        for name in bundled:
            assert (asset / "crhelper" / name).read_bytes() == (VENDORED / name).read_bytes()
