"""The library's errors at synth."""

from __future__ import annotations


class OtaUpdateValidationError(ValueError):
    """Props that break the CreateOTAUpdate constraints, each named with its construct path."""
