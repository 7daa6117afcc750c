"""cdk-ota-update: AWS IoT OTA updates (iot:CreateOTAUpdate) declared as AWS CDK constructs.

The constructs are imported on first use (PEP 562), so that the API contract
(``cdk_ota_update.api``), the Lambda handler and the moto emulation (``cdk_ota_update.testing``)
import neither ``aws_cdk`` nor ``jsii`` (no Node.js process for a plain boto3 test). The Lambda
asset ships this file as it is, beside ``api.py``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .base import IOtaUpdate
    from .dashboard import RolloutDashboard
    from .errors import OtaUpdateValidationError
    from .ota_update import OtaUpdate
    from .props import (
        AwsJobAbortConfig,
        AwsJobAbortCriteria,
        AwsJobAbortCriteriaAbortAction,
        AwsJobAbortCriteriaFailureType,
        AwsJobExecutionsRolloutConfig,
        AwsJobExponentialRolloutRate,
        AwsJobPresignedUrlConfig,
        AwsJobRateIncreaseCriteria,
        AwsJobTimeoutConfig,
        CodeSigning,
        CodeSigningCertificateChain,
        CodeSigningSignature,
        CustomCodeSigning,
        Destination,
        FileLocation,
        OtaTarget,
        OtaUpdateFile,
        Protocol,
        RolloutGate,
        S3Destination,
        S3Location,
        SigningProfileParameter,
        StartSigningJobParameter,
        Stream,
        TargetSelection,
    )
    from .provider import OtaUpdateProvider
    from .role import OtaUpdateServiceRole


# Each public name and the module that defines it.
_MODULES = {
    "IOtaUpdate": "base",
    "OtaUpdateValidationError": "errors",
    "OtaUpdate": "ota_update",
    "OtaUpdateProvider": "provider",
    "OtaUpdateServiceRole": "role",
    "RolloutDashboard": "dashboard",
}


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f".{_MODULES.get(name, 'props')}", __name__)
    value = getattr(module, name)
    globals()[name] = value
    return value


__all__ = [
    "AwsJobAbortConfig",
    "AwsJobAbortCriteria",
    "AwsJobAbortCriteriaAbortAction",
    "AwsJobAbortCriteriaFailureType",
    "AwsJobExecutionsRolloutConfig",
    "AwsJobExponentialRolloutRate",
    "AwsJobPresignedUrlConfig",
    "AwsJobRateIncreaseCriteria",
    "AwsJobTimeoutConfig",
    "CodeSigning",
    "CodeSigningCertificateChain",
    "CodeSigningSignature",
    "CustomCodeSigning",
    "Destination",
    "FileLocation",
    "IOtaUpdate",
    "OtaTarget",
    "OtaUpdate",
    "OtaUpdateFile",
    "OtaUpdateProvider",
    "OtaUpdateServiceRole",
    "OtaUpdateValidationError",
    "Protocol",
    "RolloutDashboard",
    "RolloutGate",
    "S3Destination",
    "S3Location",
    "SigningProfileParameter",
    "StartSigningJobParameter",
    "Stream",
    "TargetSelection",
]
