"""What every OTA update offers, created by a stack or imported: ``IOtaUpdate``."""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from aws_cdk import ArnFormat, Duration, Stack, Token
from aws_cdk import aws_iam as iam
from constructs import Construct

from . import api
from .errors import OtaUpdateValidationError
from .metrics import JobMetrics, MetricOptions

if TYPE_CHECKING:
    from aws_cdk import aws_cloudwatch as cloudwatch
    from typing_extensions import Unpack

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

    # The AWS IoT Jobs metrics of its job and the alarms on them (cdk_ota_update.metrics).
    def metric(self, metric_name: str, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """The metric ``metric_name`` (namespace ``AWS/IoT``, dimension ``JobId``) of its job."""
        ...

    def metric_queued(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric: ...
    def metric_queued_total(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric: ...
    def metric_in_progress(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric: ...
    def metric_in_progress_total(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric: ...
    def metric_succeeded(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric: ...
    def metric_succeeded_total(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric: ...
    def metric_failed(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric: ...
    def metric_failed_total(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric: ...
    def metric_rejected(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric: ...
    def metric_rejected_total(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric: ...
    def metric_canceled(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric: ...
    def metric_canceled_total(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric: ...
    def metric_removed(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric: ...
    def metric_removed_total(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric: ...

    def alarm_failure_rate(
        self,
        id: str = ...,
        *,
        threshold_percent: float,
        min_finished_executions: int = ...,
        evaluation_periods: int = ...,
        datapoints_to_alarm: int | None = ...,
        period: Duration | None = ...,
        treat_missing_data: cloudwatch.TreatMissingData | None = ...,
        alarm_name: str | None = ...,
        alarm_description: str | None = ...,
        actions_enabled: bool | None = ...,
    ) -> cloudwatch.Alarm:
        """An alarm on the share of its job's finished executions that failed."""
        ...

    def alarm_no_success(
        self,
        id: str = ...,
        *,
        within: Duration,
        treat_missing_data: cloudwatch.TreatMissingData | None = ...,
        alarm_name: str | None = ...,
        alarm_description: str | None = ...,
        actions_enabled: bool | None = ...,
    ) -> cloudwatch.Alarm:
        """An alarm when no execution of its job succeeds within a time while some are pending."""
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


class ImportedOtaUpdate(Construct, JobMetrics):
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
        self._environment: MetricOptions = {}

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
        imported = cls(
            scope,
            id,
            ota_update_id=ota_update_id,
            ota_update_arn=ota_update_arn,
            aws_iot_job_arn=job_arn,
        )
        # Its job's metrics are in the ARN's account and Region, where those are known at synth.
        if parts.account and not Token.is_unresolved(parts.account):
            imported._environment["account"] = parts.account
        if parts.region and not Token.is_unresolved(parts.region):
            imported._environment["region"] = parts.region
        return imported

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` watch the rollout (see :meth:`IOtaUpdate.grant_read`)."""
        return grant_read(grantee, self)

    def _metric_job_id(self) -> str:
        return self.aws_iot_job_id

    def _metric_defaults(self) -> MetricOptions:
        return self._environment


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
