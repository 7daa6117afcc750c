"""The IoT service's errors, as the emulation answers them."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
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


def validation_error(violations: Sequence[api.Violation]) -> InvalidRequestException:
    """InvalidRequestException (IoT's operations answer no ValidationException) worded as AWS
    words validation errors: ``2 validation errors detected: Value '...' at '...' failed to
    satisfy constraint: Member must ...; Value ...``."""
    count = len(violations)
    return InvalidRequestException(
        f"{count} validation error{'s' if count > 1 else ''} detected: "
        + "; ".join(map(_sentence, violations))
    )


def _sentence(violation: api.Violation) -> str:
    why = f" ({violation.why})" if violation.why else ""
    return (
        f"Value {_value(violation.value)} at '{_member_path(violation.path)}' failed to satisfy "
        f"constraint: Member must {_constraint(violation)}{why}"
    )


def _value(value: Any) -> str:
    return "null" if value is None else f"'{_shown(value)}'"


def _shown(value: Any) -> str:
    """A value as AWS's messages show it (Java's toString): ``[a, b]``, ``{k=v}``, ``true``."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return f"[{', '.join(map(_shown, value))}]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{key}={_shown(item)}" for key, item in value.items()) + "}"
    return str(value)


def _member_path(path: str) -> str:
    """A member path as AWS spells it: ``tags[0].Key`` is ``tags.1.member.key``."""
    items = re.sub(r"\[(\d+)\]", lambda index: f".{int(index[1]) + 1}.member", path)
    return re.sub(r"(^|\.)([A-Z])", lambda member: member[1] + member[2].lower(), items)


# What api.Violation says fits (``from 1 to 128 characters long``), reworded as AWS words the
# constraints of its model; the library's own rules keep their words (``Member must be ...``).
_RANGE = r"(?:from (?P<low>\S+) to (?P<high>\S+)|at least (?P<least>\S+)|at most (?P<most>\S+))"
_REWORDINGS: list[tuple[re.Pattern[str], Callable[[re.Match[str], Any], str]]] = [
    (re.compile(r"given \(it is required\)"), lambda _, __: "not be null"),
    (
        re.compile(r"a string matching the pattern (?P<pattern>.+)"),
        lambda match, _: f"satisfy regular expression pattern: {match['pattern']}",
    ),
    (
        re.compile(r"one of (?P<values>.+)"),
        lambda match, _: f"satisfy enum value set: [{match['values']}]",
    ),
    (
        re.compile(rf"{_RANGE} (?:characters? long|items?)(?: \(given: \d+\))?"),
        lambda match, value: f"have length {_bound(match, len(value))}",
    ),
    (
        re.compile(rf"(?:an integer|a number) {_RANGE}"),
        lambda match, value: f"have value {_bound(match, value)}",
    ),
]


def _constraint(violation: api.Violation) -> str:
    for pattern, reworded in _REWORDINGS:
        match = pattern.fullmatch(violation.expected)
        if match:
            return reworded(match, violation.value)
    return f"be {violation.expected}"


def _bound(match: re.Match[str], measure: float) -> str:
    """The bound of the range that ``measure`` is past."""
    high = match["high"] or match["most"]
    if high is not None and measure > float(high):
        return f"less than or equal to {high}"
    return f"greater than or equal to {match['low'] or match['least']}"
