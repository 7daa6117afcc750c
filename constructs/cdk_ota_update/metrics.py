"""The AWS IoT Jobs metrics of an OTA update's job, and the alarms a release needs.

AWS IoT publishes, in the namespace ``AWS/IoT`` with the dimension ``JobId``, two metrics per
job execution status: ``<Status>JobExecutionCount`` (the executions whose status changed to it
within the period) and ``<Status>JobExecutionTotalCount`` (the job's executions in that status).

``JOB_METRICS`` is the one table of their names (kept in :mod:`cdk_ota_update.job_metrics`, which
the emulation reads without importing aws_cdk). AWS spells SUCCEEDED's ``Succeded`` and
publishes no metric for TIMED_OUT executions (nor ``ClientErrorCount``/``ServerErrorCount``
here: they count API errors, not executions). ``JobMetrics`` gives ``OtaUpdate`` and the imported
OTA updates the same ``metric_*()`` and ``alarm_*()`` methods, in aws-cdk's ``metricXxx`` style.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypedDict, cast

from aws_cdk import Duration, Token
from constructs import Construct

from .errors import OtaUpdateValidationError
from .job_metrics import JOB_ID_DIMENSION as JOB_ID_DIMENSION  # re-exported: the names' table
from .job_metrics import JOB_METRICS as JOB_METRICS
from .job_metrics import NAMESPACE as NAMESPACE

if TYPE_CHECKING:
    from aws_cdk import aws_cloudwatch as cloudwatch
    from typing_extensions import Unpack

# A count of changes adds up over the period; a total is a level: its highest in the period.
# (Plain strings, as cloudwatch.Stats has them: reading those is a jsii call on import.)
CHANGED_STATISTIC = "Sum"
TOTAL_STATISTIC = "Maximum"
# The statuses that end an execution well or badly (CANCELED and REMOVED are neither). AWS
# publishes nothing for TIMED_OUT, so a timed-out execution is in no rate.
SUCCEEDED = ("SUCCEEDED",)
FAILED = ("FAILED", "REJECTED")
DEFAULT_PERIOD_MINUTES = 5  # CloudWatch's and aws-cdk's default period of a metric

# CloudWatch's bounds on an alarm of a standard-resolution metric (PutMetricAlarm: Period):
# whole minutes; Period x EvaluationPeriods at most 7 days, at most 1 day below a 1-hour period.
_MINUTE = 60
_HOUR = 3600
_DAY = 86400
_WEEK = 7 * _DAY


class MetricOptions(TypedDict, total=False):
    """The keyword options of ``aws_cloudwatch.MetricOptions``, passed through to the metric."""

    account: str
    color: str
    dimensions_map: Mapping[str, str]
    id: str
    label: str
    period: Duration
    region: str
    stack_account: str
    stack_region: str
    statistic: str
    unit: cloudwatch.Unit
    visible: bool


class JobMetrics:
    """The metrics of an OTA update's IoT job and the alarms on them, mixed into the constructs
    that are OTA updates (``OtaUpdate``, ``ImportedOtaUpdate``), which give
    :meth:`_metric_job_id` (and :meth:`_metric_defaults`)."""

    def _metric_job_id(self) -> str:
        """The ``JobId`` dimension: ``AFR_OTA-<otaUpdateId>``."""
        raise NotImplementedError

    def _metric_defaults(self) -> MetricOptions:
        """Options the metrics take unless given (an imported OTA update's account and Region)."""
        return {}

    # -- the metrics ---------------------------------------------------------------------------

    def metric(self, metric_name: str, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """The metric ``metric_name`` of this OTA update's job: namespace ``AWS/IoT``, dimension
        ``JobId`` = the job (``AFR_OTA-<otaUpdateId>``), attached to this construct's stack (a
        dashboard or alarm of another account or Region names this one's).

        :param metric_name: an AWS IoT Jobs metric, for example ``FailedJobExecutionTotalCount``.
        :param options: ``aws_cloudwatch.MetricOptions``; ``dimensions_map`` adds to ``JobId``,
            which is always this job. Default: - CloudWatch's: Average over 5 minutes.
        """
        dimensions = {**options.get("dimensions_map", {}), JOB_ID_DIMENSION: self._metric_job_id()}
        settings: dict[str, Any] = {**self._metric_defaults(), **options}
        settings.pop("dimensions_map", None)
        # On first use (tests/project/test_imports.py).
        from aws_cdk import aws_cloudwatch as cloudwatch

        metric = cloudwatch.Metric(
            namespace=NAMESPACE, metric_name=metric_name, dimensions_map=dimensions, **settings
        )
        return metric.attach_to(cast(Construct, self))

    def _job_metric(self, status: str, total: bool, options: MetricOptions) -> cloudwatch.Metric:
        changed_name, total_name = JOB_METRICS[status]
        statistic = TOTAL_STATISTIC if total else CHANGED_STATISTIC
        given: MetricOptions = {"statistic": statistic, **options}
        return self.metric(total_name if total else changed_name, **given)

    def metric_queued(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """Executions that became QUEUED within the period (``QueuedJobExecutionCount``).

        Default: Sum over 5 minutes."""
        return self._job_metric("QUEUED", False, options)

    def metric_queued_total(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """The job's QUEUED executions (``QueuedJobExecutionTotalCount``).

        Default: Maximum over 5 minutes (the highest level in the period)."""
        return self._job_metric("QUEUED", True, options)

    def metric_in_progress(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """Executions that became IN_PROGRESS within the period (``InProgressJobExecutionCount``).

        Default: Sum over 5 minutes."""
        return self._job_metric("IN_PROGRESS", False, options)

    def metric_in_progress_total(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """The job's IN_PROGRESS executions (``InProgressJobExecutionTotalCount``).

        Default: Maximum over 5 minutes (the highest level in the period)."""
        return self._job_metric("IN_PROGRESS", True, options)

    def metric_succeeded(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """Executions that SUCCEEDED within the period (``SuccededJobExecutionCount``, AWS's
        spelling).

        Default: Sum over 5 minutes."""
        return self._job_metric("SUCCEEDED", False, options)

    def metric_succeeded_total(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """The job's SUCCEEDED executions (``SuccededJobExecutionTotalCount``).

        Default: Maximum over 5 minutes (the highest level in the period)."""
        return self._job_metric("SUCCEEDED", True, options)

    def metric_failed(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """Executions that FAILED within the period (``FailedJobExecutionCount``).

        Default: Sum over 5 minutes."""
        return self._job_metric("FAILED", False, options)

    def metric_failed_total(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """The job's FAILED executions (``FailedJobExecutionTotalCount``).

        Default: Maximum over 5 minutes (the highest level in the period)."""
        return self._job_metric("FAILED", True, options)

    def metric_rejected(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """Executions the devices REJECTED within the period (``RejectedJobExecutionCount``).

        Default: Sum over 5 minutes."""
        return self._job_metric("REJECTED", False, options)

    def metric_rejected_total(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """The job's REJECTED executions (``RejectedJobExecutionTotalCount``).

        Default: Maximum over 5 minutes (the highest level in the period)."""
        return self._job_metric("REJECTED", True, options)

    def metric_canceled(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """Executions CANCELED within the period (``CanceledJobExecutionCount``).

        Default: Sum over 5 minutes."""
        return self._job_metric("CANCELED", False, options)

    def metric_canceled_total(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """The job's CANCELED executions (``CanceledJobExecutionTotalCount``).

        Default: Maximum over 5 minutes (the highest level in the period)."""
        return self._job_metric("CANCELED", True, options)

    def metric_removed(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """Executions REMOVED within the period (``RemovedJobExecutionCount``): their thing was
        deleted or left the target thing group.

        Default: Sum over 5 minutes."""
        return self._job_metric("REMOVED", False, options)

    def metric_removed_total(self, **options: Unpack[MetricOptions]) -> cloudwatch.Metric:
        """The job's REMOVED executions (``RemovedJobExecutionTotalCount``).

        Default: Maximum over 5 minutes (the highest level in the period)."""
        return self._job_metric("REMOVED", True, options)

    # -- the alarms ----------------------------------------------------------------------------

    def alarm_failure_rate(
        self,
        id: str = "FailureRateAlarm",
        *,
        threshold_percent: float,
        min_finished_executions: int = 1,
        evaluation_periods: int = 1,
        datapoints_to_alarm: int | None = None,
        period: Duration | None = None,
        treat_missing_data: cloudwatch.TreatMissingData | None = None,
        alarm_name: str | None = None,
        alarm_description: str | None = None,
        actions_enabled: bool | None = None,
    ) -> cloudwatch.Alarm:
        """An alarm, child ``id`` of this construct, that fires when more than
        ``threshold_percent`` of the job's finished executions failed: FAILED + REJECTED over
        SUCCEEDED + FAILED + REJECTED, from the job's totals (CANCELED and REMOVED executions are
        not finished; AWS publishes no TIMED_OUT metric, so timed-out ones are not counted).

        :param id: the alarm's construct id (one per alarm of this OTA update).
        :param threshold_percent: the failure rate (0 to below 100) above which the alarm fires.
        :param min_finished_executions: below this many finished executions the rate counts as 0
            (one early failure is not a failing release). Default: 1.
        :param evaluation_periods: Default: 1.
        :param datapoints_to_alarm: Default: - ``evaluation_periods``.
        :param period: Default: 5 minutes.
        :param treat_missing_data: Default: NOT_BREACHING: no execution reported means nothing is
            failing: the alarm is OK before the rollout starts and once the job stops reporting
            (IGNORE keeps the last state instead).
        :param alarm_name: Default: - a name CloudFormation generates.
        :param alarm_description: Default: - says what the alarm watches.
        :param actions_enabled: Default: true.
        """
        scope = cast(Construct, self)
        method = "alarm_failure_rate"
        _check_number(scope, method, "threshold_percent", threshold_percent, 0, 100, "5")
        _check_count(scope, method, "min_finished_executions", min_finished_executions, "10")
        _check_count(scope, method, "evaluation_periods", evaluation_periods, "3")
        if datapoints_to_alarm is not None:
            _check_count(scope, method, "datapoints_to_alarm", datapoints_to_alarm, "1")
            if datapoints_to_alarm > evaluation_periods:
                raise _invalid(
                    scope,
                    method,
                    "datapoints_to_alarm",
                    datapoints_to_alarm,
                    f"at most evaluation_periods ({evaluation_periods})",
                    f"datapoints_to_alarm={evaluation_periods} or more evaluation_periods",
                )
        period = period or Duration.minutes(DEFAULT_PERIOD_MINUTES)
        _check_period(scope, method, "period", period, evaluation_periods)
        from aws_cdk import aws_cloudwatch as cloudwatch

        return cloudwatch.Alarm(
            scope,
            id,
            metric=failure_rate(self, period=period, min_finished=min_finished_executions),
            threshold=threshold_percent,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=datapoints_to_alarm,
            treat_missing_data=treat_missing_data or cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_name=alarm_name,
            alarm_description=alarm_description
            or (
                f"More than {threshold_percent}% of the finished executions of "
                f"{scope.node.path}'s job failed or were rejected"
            ),
            actions_enabled=actions_enabled,
        )

    def alarm_no_success(
        self,
        id: str = "NoSuccessAlarm",
        *,
        within: Duration,
        treat_missing_data: cloudwatch.TreatMissingData | None = None,
        alarm_name: str | None = None,
        alarm_description: str | None = None,
        actions_enabled: bool | None = None,
    ) -> cloudwatch.Alarm:
        """An alarm, child ``id`` of this construct, that fires when no execution SUCCEEDED
        within ``within`` while executions were QUEUED or IN_PROGRESS (the devices take the job
        but never finish it: the firmware hangs or bricks them). A job with nothing pending
        (not started, or done) does not fire it.

        :param id: the alarm's construct id (one per alarm of this OTA update).
        :param within: the time one execution takes at most (download, install, reboot, report):
            whole minutes, at most 7 days (1 day below an hour). It is the alarm's period.
        :param treat_missing_data: Default: NOT_BREACHING: nothing reported, nothing pending.
        :param alarm_name: Default: - a name CloudFormation generates.
        :param alarm_description: Default: - says what the alarm watches.
        :param actions_enabled: Default: true.
        """
        scope = cast(Construct, self)
        _check_period(scope, "alarm_no_success", "within", within, 1)
        from aws_cdk import aws_cloudwatch as cloudwatch

        pending = _sum("queued", "in_progress")
        stalled = cloudwatch.MathExpression(
            expression=f"IF({pending} > 0, FILL(succeeded, 0), 1)",
            using_metrics={
                "queued": self.metric_queued_total(period=within),
                "in_progress": self.metric_in_progress_total(period=within),
                "succeeded": self.metric_succeeded(period=within),
            },
            label="SUCCEEDED while executions are pending",
            period=within,
        )
        return cloudwatch.Alarm(
            scope,
            id,
            metric=stalled,
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=treat_missing_data or cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_name=alarm_name,
            alarm_description=alarm_description
            or (
                f"No execution of {scope.node.path}'s job succeeded within "
                f"{within.to_human_string()} while executions were pending"
            ),
            actions_enabled=actions_enabled,
        )


# -- the rates, for the alarms and the dashboard ----------------------------------------------


def _sum(*ids: str) -> str:
    """The sum of the metrics ``ids``, a missing value counting 0 (AWS may publish nothing for a
    status no execution is in)."""
    return " + ".join(f"FILL({i}, 0)" for i in ids)


def _finished_metrics(ota: JobMetrics, period: Duration) -> dict[str, cloudwatch.IMetric]:
    totals = {status.lower(): status for status in (*SUCCEEDED, *FAILED)}
    return {
        key: ota._job_metric(status, True, {"period": period}) for key, status in totals.items()
    }


def failure_rate(
    ota: JobMetrics, *, period: Duration | None = None, min_finished: int = 1
) -> cloudwatch.MathExpression:
    """The percentage of the job's finished executions that FAILED or were REJECTED (0 below
    ``min_finished`` finished executions)."""
    from aws_cdk import aws_cloudwatch as cloudwatch

    period = period or Duration.minutes(DEFAULT_PERIOD_MINUTES)
    bad = _sum(*(s.lower() for s in FAILED))
    finished = _sum(*(s.lower() for s in (*SUCCEEDED, *FAILED)))
    return cloudwatch.MathExpression(
        expression=f"IF({finished} >= {min_finished}, 100 * ({bad}) / ({finished}), 0)",
        using_metrics=_finished_metrics(ota, period),
        label="Failed %",
        period=period,
    )


def success_rate(ota: JobMetrics, *, period: Duration | None = None) -> cloudwatch.MathExpression:
    """The percentage of the job's finished executions that SUCCEEDED (0 before any finished)."""
    from aws_cdk import aws_cloudwatch as cloudwatch

    period = period or Duration.minutes(DEFAULT_PERIOD_MINUTES)
    good = _sum(*(s.lower() for s in SUCCEEDED))
    finished = _sum(*(s.lower() for s in (*SUCCEEDED, *FAILED)))
    return cloudwatch.MathExpression(
        expression=f"IF({finished} > 0, 100 * ({good}) / ({finished}), 0)",
        using_metrics=_finished_metrics(ota, period),
        label="Succeeded %",
        period=period,
    )


# -- eager checks of the alarms' input --------------------------------------------------------


def _invalid(
    scope: Construct, method: str, field: str, value: object, must: str, fix: str
) -> OtaUpdateValidationError:
    shown = value.to_human_string() if isinstance(value, Duration) else repr(value)
    return OtaUpdateValidationError(
        f"{scope.node.path}: {method}({field}) = {shown} is invalid: it must be {must}: "
        f"give for example {fix}"
    )


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_number(
    scope: Construct, method: str, field: str, value: object, low: float, high: float, example: str
) -> None:
    if _is_number(value) and Token.is_unresolved(value):
        return
    if not _is_number(value) or not low <= cast(float, value) < high:
        raise _invalid(
            scope,
            method,
            field,
            value,
            f"a number from {low} to below {high}",
            f"{field}={example}",
        )


def _check_count(scope: Construct, method: str, field: str, value: object, example: str) -> None:
    if _is_number(value) and Token.is_unresolved(value):
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise _invalid(
            scope, method, field, value, "a whole number, 1 or more", f"{field}={example}"
        )


def _check_period(
    scope: Construct, method: str, field: str, value: object, evaluation_periods: int
) -> None:
    """A standard-resolution alarm's period: whole minutes; with the evaluation periods, at most
    7 days, at most 1 day below an hour (PutMetricAlarm)."""
    example = f"{field}=Duration.minutes(30)"
    if not isinstance(value, Duration):
        raise _invalid(scope, method, field, value, "a Duration", example)
    seconds = value.to_seconds()
    if Token.is_unresolved(seconds):
        return
    if seconds < _MINUTE or seconds % _MINUTE:
        raise _invalid(
            scope,
            method,
            field,
            value,
            "whole minutes, 1 or more (AWS IoT publishes the Jobs metrics once a minute)",
            example,
        )
    limit = _WEEK if seconds >= _HOUR else _DAY
    if seconds * evaluation_periods > limit:
        span = "7 days" if limit == _WEEK else "1 day (7 days from a 1-hour period on)"
        raise _invalid(
            scope,
            method,
            field,
            value,
            f"at most {span} times evaluation_periods ({evaluation_periods}): CloudWatch "
            "evaluates an alarm over no longer",
            example,
        )
