"""Test controls of the emulation: lifecycle timing, fault injection and call counts.

Plain module state of this process: it reaches moto in-process (``mock_aws()``) and a
``ThreadedMotoServer`` started by the same process; a ``moto_server`` running elsewhere takes them
over HTTP (:mod:`.http_controls`).
Everything here is cleared by :func:`reset_controls`, which moto's reset of its IoT backend calls
too (``mock_aws()`` starting, ``/moto-api/reset``).
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass

from botocore.model import OperationNotFoundError

from cdk_ota_update import api

from .exceptions import error_status

# Serialises the emulation's requests and the controls (ThreadedMotoServer answers in threads).
LOCK = threading.RLock()


@dataclass(frozen=True)
class ErrorInfo:
    """The ``errorInfo`` of a failed OTA update."""

    code: str
    message: str


class _Controls:
    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.delay = 0.0
        self.manual = False
        self.faults: dict[str, deque[str]] = {}
        self.creation_failure: ErrorInfo | None = None
        self.deletion_failure: ErrorInfo | None = None
        self.calls: Counter[str] = Counter()
        self.strict_iam = False


_controls = _Controls()


def set_lifecycle_delay(seconds: float) -> None:
    """Make each status transition of OTA updates created or deleted from now on take ``seconds``.

    Creation goes CREATE_PENDING -> CREATE_IN_PROGRESS -> CREATE_COMPLETE (or CREATE_FAILED),
    deletion DELETE_IN_PROGRESS -> gone (or DELETE_FAILED), after which the deleted OTA update's
    job stays DELETION_IN_PROGRESS for one more transition. Status is computed from the time
    elapsed whenever IoT is called, so no thread runs in the background. With the default 0,
    CreateOTAUpdate still answers CREATE_PENDING and the next call sees the final status.
    """
    if seconds < 0:
        raise ValueError(f"the lifecycle delay must not be negative, not {seconds}")
    with LOCK:
        _controls.delay = seconds


def set_manual_lifecycle(enabled: bool) -> None:
    """Step the OTA updates created or deleted from now on only by :func:`advance` (if enabled).

    This makes lifecycle tests deterministic: each ``advance()`` is one transition of
    :func:`set_lifecycle_delay`'s sequence.
    """
    with LOCK:
        _controls.manual = enabled


def throttle(operation: str, times: int = 1) -> None:
    """Make the next ``times`` calls of ``operation`` (``"CreateOTAUpdate"``, ...) throttled.

    They fail with ThrottlingException (HTTP 400, as the IoT API documents it) and change nothing.
    """
    fail(operation, times, "ThrottlingException")


def fail(operation: str, times: int = 1, code: str = "InternalFailureException") -> None:
    """Make the next ``times`` calls of the IoT operation ``operation`` fail with error ``code``.

    ``code`` is any error of the IoT API, answered with its HTTP status (InternalFailureException
    500, ServiceUnavailableException 503, ...); the failed calls change nothing. Faults queue up
    in the order they are asked for.
    """
    try:
        api.operation_input(operation)
    except OperationNotFoundError:
        raise ValueError(f"{operation!r} is not an operation of AWS IoT") from None
    error_status(code)
    with LOCK:
        _controls.faults.setdefault(operation, deque()).extend([code] * times)


def fail_next_creation(code: str, message: str) -> None:
    """Make the next CreateOTAUpdate accepted but end in CREATE_FAILED with this ``errorInfo``."""
    with LOCK:
        _controls.creation_failure = ErrorInfo(code, message)


def fail_next_deletion(message: str, code: str = "InternalFailureException") -> None:
    """Make the next DeleteOTAUpdate accepted but end in DELETE_FAILED with this ``errorInfo``.

    The OTA update, its job and its stream then stay as they were.
    """
    with LOCK:
        _controls.deletion_failure = ErrorInfo(code, message)


def calls(operation: str) -> int:
    """How many requests of the IoT ``operation`` the emulation has answered (faults included)."""
    with LOCK:
        return _controls.calls[operation]


def reset_controls() -> None:
    """Back to the defaults: no delay, automatic lifecycle, no faults, call counts at zero, strict
    IAM off, no simulated fleet (its clock back at the start)."""
    with LOCK:
        _controls.clear()
        for hook in _RESET_HOOKS:
            hook()


_RESET_HOOKS: list[Callable[[], None]] = []


def on_reset(hook: Callable[[], None]) -> None:
    """Make :func:`reset_controls` call ``hook`` too (the controls kept in other modules)."""
    _RESET_HOOKS.append(hook)


# ---------------------------------------------------------------------------------------------
# Read by the emulation (under LOCK).
# ---------------------------------------------------------------------------------------------
def lifecycle_settings() -> tuple[float, bool]:
    """The delay and manual flag a lifecycle starting now follows."""
    return _controls.delay, _controls.manual


def take_call(operation: str) -> str | None:
    """Count a request of ``operation``; the error code it must fail with, if any."""
    _controls.calls[operation] += 1
    queued = _controls.faults.get(operation)
    return queued.popleft() if queued else None


def set_strict_iam(enabled: bool) -> None:
    """(:func:`.strict_iam.set_strict_iam` is the public control.)"""
    _controls.strict_iam = enabled


def strict_iam() -> bool:
    return _controls.strict_iam


def take_creation_failure() -> ErrorInfo | None:
    failure, _controls.creation_failure = _controls.creation_failure, None
    return failure


def take_deletion_failure() -> ErrorInfo | None:
    failure, _controls.deletion_failure = _controls.deletion_failure, None
    return failure
