"""The IoT service's errors, as the emulation answers them."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from botocore.model import NoShapeFoundError
from moto.iot.exceptions import InvalidRequestException, IoTClientError

from cdk_ota_update import api


def error_status(code: str) -> int:
    """The HTTP status of the IoT error ``code`` (from botocore's model); ValueError if none."""
    try:
        metadata = api.shape(code).metadata
    except NoShapeFoundError:
        metadata = {}
    if not metadata.get("exception"):
        raise ValueError(f"{code!r} is not an error of AWS IoT")
    return int(metadata.get("error", {}).get("httpStatusCode", 400))


class ServiceError(IoTClientError):
    """Any IoT error, with the HTTP status botocore's model gives it."""

    def __init__(self, code: str, message: str | None = None) -> None:
        super().__init__(code, message or _documented_message(code))
        self.code = error_status(code)


def _documented_message(code: str) -> str:
    """The model's one-line description of the error ("The rate exceeds the limit.")."""
    return re.sub(r"<[^>]+>", "", api.shape(code).documentation).strip()


def validation_error(violations: Iterable[api.Violation]) -> InvalidRequestException:
    """InvalidRequestException worded as AWS words validation errors."""
    details = [
        f"Value {_value(v.value)} at '{v.path}' failed to satisfy constraint: "
        f"Member must be {v.expected}" + (f" ({v.why})" if v.why else "")
        for v in violations
    ]
    count = len(details)
    return InvalidRequestException(
        f"{count} validation error{'s' if count > 1 else ''} detected: {'; '.join(details)}"
    )


def _value(value: Any) -> str:
    return "null" if value is None else f"'{value}'"
