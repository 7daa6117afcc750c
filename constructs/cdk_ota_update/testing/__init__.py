"""moto emulation of AWS IoT OTA updates and streams, for tests (``cdk-ota-update[testing]``).

Call :func:`install` once; moto then answers CreateOTAUpdate, GetOTAUpdate, ListOTAUpdates,
DeleteOTAUpdate, CreateStream, DescribeStream, ListStreams, UpdateStream, DeleteStream and
ListTagsForResource / TagResource / UntagResource (for OTA update and stream ARNs), in-process
(``mock_aws()``) and over HTTP (``ThreadedMotoServer``; ``python -m cdk_ota_update.testing`` runs a
``moto_server`` with the emulation installed). Plain boto3 is all a test needs afterwards.

The state lives in moto's IoT backend and resets with it. The test controls are the functions
re-exported below (see :mod:`.controls`); what is checked when is described in :mod:`.backend`.
Importing ``cdk_ota_update`` never imports moto: only this package does, after checking that the
installed moto is one the emulation works with (:mod:`.moto_requirement`; ImportError otherwise).
"""

from __future__ import annotations

# ruff: noqa: E402 (moto's version is checked before anything imports moto)
from .moto_requirement import require_moto

require_moto()

from moto.iot.models import IoTBackend
from moto.iot.responses import IoTResponse

from .backend import advance
from .controls import (
    LOCK,
    calls,
    fail,
    fail_next_creation,
    fail_next_deletion,
    reset_controls,
    set_lifecycle_delay,
    set_manual_lifecycle,
    throttle,
)
from .responses import RESPONSES
from .strict_iam import set_strict_iam

__all__ = [
    "advance",
    "calls",
    "fail",
    "fail_next_creation",
    "fail_next_deletion",
    "install",
    "reset_controls",
    "set_lifecycle_delay",
    "set_manual_lifecycle",
    "set_strict_iam",
    "throttle",
]


def install() -> None:
    """Teach moto's IoT the OTA update and stream operations; calling it again does nothing.

    Also makes moto's reset of its IoT backend (``mock_aws()`` starting, ``/moto-api/reset``)
    call :func:`reset_controls`.
    """
    with LOCK:
        if getattr(IoTResponse, "call_action", None) is RESPONSES["call_action"]:
            return
        for name, function in RESPONSES.items():
            setattr(IoTResponse, name, function)
        moto_reset = IoTBackend.reset

        def reset(backend: IoTBackend) -> None:
            moto_reset(backend)
            reset_controls()

        setattr(IoTBackend, "reset", reset)  # noqa: B010 (mypy forbids assigning a method)
