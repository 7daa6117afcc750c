"""What every OTA update offers, created by a stack or imported: ``IOtaUpdate``."""

from __future__ import annotations

import functools
import re
from typing import Protocol, runtime_checkable

from aws_cdk import ArnFormat, Stack, Token
from aws_cdk import aws_iam as iam
from constructs import Construct

from . import api
from .errors import OtaUpdateValidationError

# What watching a rollout takes: the OTA update, its job and the job's executions.
READ_OTA_UPDATE = ("iot:GetOTAUpdate",)
READ_JOB = ("iot:DescribeJob", "iot:ListJobExecutionsForJob")


@runtime_checkable
class IOtaUpdate(Protocol):
    """An AWS IoT OTA update: its id, ARN and job, and read access to them."""

    @property
    def ota_update_id(self) -> str: ...

    @property
    def ota_update_arn(self) -> str: ...

    @property
    def aws_iot_job_id(self) -> str:
        """The IoT job the service created for the OTA update (``AFR_OTA-<otaUpdateId>``)."""
        ...

    @property
    def aws_iot_job_arn(self) -> str: ...

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` watch the rollout: GetOTAUpdate on the OTA update, DescribeJob and
        ListJobExecutionsForJob on exactly its job."""
        ...


def grant_read(grantee: iam.IGrantable, ota_update: IOtaUpdate) -> iam.Grant:
    """GetOTAUpdate on ``ota_update``, DescribeJob and ListJobExecutionsForJob on its job."""
    return iam.Grant.add_to_principal(
        grantee=grantee, actions=list(READ_OTA_UPDATE), resource_arns=[ota_update.ota_update_arn]
    ).combine(
        iam.Grant.add_to_principal(
            grantee=grantee, actions=list(READ_JOB), resource_arns=[ota_update.aws_iot_job_arn]
        )
    )


class ImportedOtaUpdate(Construct):
    """An OTA update that exists outside the stack (``OtaUpdate.from_ota_update_id/arn``)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        ota_update_id: str,
        ota_update_arn: str,
        aws_iot_job_arn: str,
    ) -> None:
        super().__init__(scope, id)
        self.ota_update_id = ota_update_id
        self.ota_update_arn = ota_update_arn
        self.aws_iot_job_id = api.job_id(ota_update_id)
        self.aws_iot_job_arn = aws_iot_job_arn

    @classmethod
    def of_id(cls, scope: Construct, id: str, ota_update_id: str) -> ImportedOtaUpdate:
        _check_id(scope, id, ota_update_id)
        stack = Stack.of(scope)
        arn = functools.partial(api.iot_arn, stack.partition, stack.region, stack.account)
        return cls(
            scope,
            id,
            ota_update_id=ota_update_id,
            ota_update_arn=arn(api.ota_update_resource(ota_update_id)),
            aws_iot_job_arn=arn(api.job_resource(ota_update_id)),
        )

    @classmethod
    def of_arn(cls, scope: Construct, id: str, ota_update_arn: str) -> ImportedOtaUpdate:
        _check_arn(scope, id, ota_update_arn)
        parts = Stack.of(scope).split_arn(ota_update_arn, ArnFormat.SLASH_RESOURCE_NAME)
        ota_update_id = parts.resource_name or ""
        _check_id(scope, id, ota_update_id)
        job_arn = api.iot_arn(
            parts.partition or "",
            parts.region or "",
            parts.account or "",
            api.job_resource(ota_update_id),
        )
        return cls(
            scope,
            id,
            ota_update_id=ota_update_id,
            ota_update_arn=ota_update_arn,
            aws_iot_job_arn=job_arn,
        )

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` watch the rollout (see :meth:`IOtaUpdate.grant_read`)."""
        return grant_read(grantee, self)


def _check_id(scope: Construct, id: str, ota_update_id: str) -> None:
    if Token.is_unresolved(ota_update_id):
        return
    violations = api.validate(
        {api.OTA_UPDATE_ID: ota_update_id}, shape=api.operation_input("GetOTAUpdate")
    )
    if violations:
        raise OtaUpdateValidationError(f"{scope.node.path}/{id}: {violations[0]}")


_OTA_UPDATE_ARN = re.compile(api.IOT_ARN_PATTERN + re.escape(api.OTA_UPDATE_RESOURCE) + "/.+")


def _check_arn(scope: Construct, id: str, arn: str) -> None:
    if Token.is_unresolved(arn) or _OTA_UPDATE_ARN.fullmatch(arn):
        return
    raise OtaUpdateValidationError(
        f"{scope.node.path}/{id}: otaUpdateArn = {arn!r} is invalid: it must be an OTA update's "
        f"ARN, arn:<partition>:iot:<region>:<account>:{api.OTA_UPDATE_RESOURCE}/<otaUpdateId> "
        "(OtaUpdate.from_ota_update_id takes the id alone)"
    )
