"""The rehearsal as a pytest fixture: ``pytest_plugins = ["cdk_ota_update.rehearse.fixture"]``.

``rehearsal(cdk_out, **options)`` runs :func:`cdk_ota_update.rehearse.rehearse` with the handler's
logs under the test's ``tmp_path`` and returns its :class:`~cdk_ota_update.rehearse.Report`::

    def test_release_rehearses(rehearsal, cdk_out):
        report = rehearsal(cdk_out, exists=["thinggroup/sensor-fleet"])
        assert report.exit_status == 0, report.table()
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .rehearsal import rehearse
from .report import Report


@pytest.fixture
def rehearsal(tmp_path: Path) -> Callable[..., Report]:
    def run(cdk_out: str | Path, **options: Any) -> Report:
        options.setdefault("workdir", tmp_path / "rehearsal")
        return rehearse(cdk_out, **options)

    return run
