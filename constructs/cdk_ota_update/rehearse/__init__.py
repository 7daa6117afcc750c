"""Rehearse a release before deploying it: ``cdk-ota-update rehearse cdk.out``.

Reads a cloud assembly (every stack or those named, in dependency order), brings up in the moto
emulation what its stacks declare (file assets, buckets and objects, IAM roles with inline and
managed policies, thing groups and things, signing profiles) with the template's intrinsics
resolved for an account and Region, and runs each ``Custom::OtaUpdate``'s bundled handler from its
asset folder, in Lambda-like processes answering to a local HTTPS ResponseURL. The emulation
judges IAM as the service does (:mod:`cdk_ota_update.testing.strict_iam`), so an OTA update whose
role may not read its firmware fails here, not in the account. Needs
``pip install "cdk-ota-update[testing]"``.

Use it as a console script (:mod:`.cli`), a function (:func:`rehearse`, which returns a
:class:`Report`) or a pytest fixture (``pytest_plugins = ["cdk_ota_update.rehearse.fixture"]``).
With a :class:`Fleet` (``--fleet``), the targets are simulated devices, so that rollout gates and
abort configurations are rehearsed too.
"""

from __future__ import annotations

from .assembly import RehearsalError
from .fleet import Fleet
from .rehearsal import DEFAULT_ACCOUNT, DEFAULT_REGION, rehearse
from .report import NotUploaded, Outcome, Report, Step

__all__ = [
    "DEFAULT_ACCOUNT",
    "DEFAULT_REGION",
    "Fleet",
    "NotUploaded",
    "Outcome",
    "RehearsalError",
    "Report",
    "Step",
    "rehearse",
]
