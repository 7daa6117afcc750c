"""moto emulation of AWS IoT OTA updates and streams, for tests (``cdk-ota-update[testing]``).

Call :func:`install` once; moto then answers CreateOTAUpdate, GetOTAUpdate, ListOTAUpdates,
DeleteOTAUpdate, CreateStream, DescribeStream, ListStreams, UpdateStream, DeleteStream and
ListTagsForResource / TagResource / UntagResource (for OTA update and stream ARNs), in-process
(``mock_aws()``) and over HTTP (``ThreadedMotoServer``; ``python -m cdk_ota_update.testing`` runs a
``moto_server`` with the emulation installed, the controls over HTTP and, with ``--fleet``, a
simulated fleet). Plain boto3 is all a test needs afterwards.

The state lives in moto's IoT backend and resets with it. The test controls are the functions
re-exported below (see :mod:`.controls`); what is checked when is described in :mod:`.backend`.

A simulated fleet (:mod:`.fleet`) moves the executions of the jobs, the OTA updates' and moto's
own, on a simulated clock: :func:`simulate_fleet` makes the targeted things devices with an
outcome drawn from a seed (or scripted per thing) and a :class:`Pace`; :func:`advance_fleet`
moves the clock, honouring each job's rollout, abort and timeout configurations; DescribeJob,
ListJobExecutionsForJob, DescribeJobExecution and the ``AWS/IoT`` job metrics in moto's
CloudWatch show what the devices did; :func:`fleet_time` is the clock's time. Without a fleet,
moto's jobs are as moto makes them::

    testing.simulate_fleet(outcomes={"SUCCEEDED": 0.9, "FAILED": 0.1}, seed=7,
                           script={"thing-3": "REJECTED"}, pace=testing.Pace(30, 120))
    iot.create_ota_update(...)
    testing.advance_fleet(600)  # ten simulated minutes, no sleeping
    iot.describe_job(jobId="AFR_OTA-release-2")["job"]["jobProcessDetails"]
Importing ``cdk_ota_update`` never imports moto: only this package does, after checking that the
installed moto is one the emulation works with (:mod:`.moto_requirement`; ImportError otherwise).
"""

from __future__ import annotations

# ruff: noqa: E402 (moto's version is checked before anything imports moto)
from .moto_requirement import require_moto

require_moto()

from moto.iot.models import IoTBackend
from moto.iot.responses import IoTResponse

from . import http_controls
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
from .fleet import Pace, advance_fleet, fleet_time, simulate_fleet
from .responses import RESPONSES
from .strict_iam import set_strict_iam

__all__ = [
    "Pace",
    "advance",
    "advance_fleet",
    "calls",
    "fail",
    "fail_next_creation",
    "fail_next_deletion",
    "fleet_time",
    "install",
    "reset_controls",
    "set_lifecycle_delay",
    "set_manual_lifecycle",
    "set_strict_iam",
    "simulate_fleet",
    "throttle",
]

CONTROLS = {name: globals()[name] for name in __all__ if name not in ("Pace", "install")}


def install() -> None:
    """Teach moto's IoT the OTA update and stream operations; calling it again does nothing.

    Also makes moto's reset of its IoT backend (``mock_aws()`` starting, ``/moto-api/reset``)
    call :func:`reset_controls`, and gives the moto servers started afterwards the controls over
    HTTP (``POST /moto-api/cdk-ota-update/<control>``, :mod:`.http_controls`).
    """
    with LOCK:
        if getattr(IoTResponse, "call_action", None) is RESPONSES["call_action"]:
            return
        for name, function in RESPONSES.items():
            setattr(IoTResponse, name, function)
        http_controls.register(CONTROLS)
        moto_reset = IoTBackend.reset

        def reset(backend: IoTBackend) -> None:
            moto_reset(backend)
            reset_controls()

        setattr(IoTBackend, "reset", reset)  # noqa: B010 (mypy forbids assigning a method)
