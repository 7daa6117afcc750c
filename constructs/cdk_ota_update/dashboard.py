"""``RolloutDashboard``: a CloudWatch dashboard of the OTA updates' jobs as they roll out."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import cast

import jsii
from aws_cdk import Aspects, Duration, IAspect, Stage, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct, IConstruct

from ._cdk import add_stack_validation
from .base import IOtaUpdate
from .errors import OtaUpdateValidationError
from .metrics import JOB_METRICS, JobMetrics, failure_rate, success_rate
from .ota_update import OtaUpdate

# A row per OTA update: its executions by status over time, beside its success and failure rates
# (a dashboard is 24 units wide).
GRAPH_WIDTH = 18
RATES_WIDTH = 24 - GRAPH_WIDTH
ROW_HEIGHT = 6
# CloudWatch's DashboardName: at most 255 of A-Z, a-z, 0-9, "-" and "_".
_DASHBOARD_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")


class RolloutDashboard(Construct):
    """A CloudWatch dashboard (child ``Resource``) with a row per OTA update: the job's
    executions by status over time (each status's total) and the share of its finished
    executions that succeeded and that failed (FAILED + REJECTED).

    The dashboard names each job by its id as synth knows it (``AFR_OTA-<otaUpdateId>``), so a
    dashboard in another stack of the same app takes no reference from the OTA updates' stacks
    (no export to block their replacement on the next release).

    Without ``ota_updates``, the OtaUpdates are found at synth, when the whole construct tree
    exists: the dashboard may be declared before or after them, in their stack or another.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        ota_updates: Sequence[IOtaUpdate] | None = None,
        find_in: IConstruct | None = None,
        dashboard_name: str | None = None,
        start: str | None = None,
        period: Duration | None = None,
    ) -> None:
        """
        :param ota_updates: the OTA updates to show (``OtaUpdate`` or imported ones), in order.
            Default: - every ``OtaUpdate`` under ``find_in``, in construct-tree order, found at
            synth (those declared before the dashboard and after it); synth fails when there is
            none.
        :param find_in: where to look for OtaUpdates when ``ota_updates`` is omitted.
            Default: - the dashboard's Stage: the app's stacks (those of the Stage it is in).
        :param dashboard_name: Default: - a name CloudFormation generates.
        :param start: the time range shown, relative (``-P7D``: the last 7 days) or an ISO 8601
            time. Default: - CloudWatch's: the last 3 hours.
        :param period: the period of every metric. Default: 5 minutes.
        """
        super().__init__(scope, id)
        # Given ones are checked now; found ones at synth (``_add_found_rows``), the same way.
        self._shown: tuple[IOtaUpdate, ...] | None = (
            None if ota_updates is None else _checked(self, ota_updates)
        )
        self._where: IConstruct = (
            find_in if find_in is not None else Stage.of(self) or self.node.root
        )
        self._period = period
        _check_name(self, dashboard_name)
        self.dashboard = cloudwatch.Dashboard(
            self, "Resource", dashboard_name=dashboard_name, start=start
        )
        """The CloudWatch dashboard."""
        if self._shown is not None:
            self._add_rows(self._shown)
        else:  # the rows are added at synth, before the dashboard's body is rendered
            Aspects.of(self).add(_ShowAtSynth(self))
            add_stack_validation(self, self._none_found)

    @property
    def ota_updates(self) -> tuple[IOtaUpdate, ...]:
        """The OTA updates shown, a row each, in order. Without ``ota_updates``: those synth
        showed, or before synth every OtaUpdate under ``find_in`` so far (read after declaring
        them all, the list synth will show)."""
        return self._shown if self._shown is not None else self._found()

    def _found(self) -> tuple[IOtaUpdate, ...]:
        """Every OtaUpdate under ``find_in``, in construct-tree order (each once)."""
        return tuple(c for c in self._where.node.find_all() if isinstance(c, OtaUpdate))

    def _add_found_rows(self) -> None:
        """The rows of the OtaUpdates found, added once (at synth); none found is left to
        ``_none_found``."""
        if self._shown is None and (found := self._found()):
            self._shown = _checked(self, found)
            self._add_rows(self._shown)

    def _add_rows(self, ota_updates: tuple[IOtaUpdate, ...]) -> None:
        for ota in ota_updates:
            self.dashboard.add_widgets(*_row(cast(JobMetrics, ota), self._period))

    def _none_found(self) -> list[str]:
        """The synth error of a dashboard without ``ota_updates`` that found no OtaUpdate."""
        if self._shown is not None or self._found():
            return []
        return [
            f"{self.node.path}: ota_updates is omitted and no OtaUpdate is declared under "
            f"{self._where.node.path or 'the app'}: give ota_updates=[...] (or find_in=...)"
        ]


@jsii.implements(IAspect)
class _ShowAtSynth:
    """Adds a dashboard's rows of the OtaUpdates found when synth reaches it: every construct
    exists by then, and the dashboard's body is rendered later (when the template is written)."""

    def __init__(self, dashboard: RolloutDashboard) -> None:
        self._dashboard = dashboard

    def visit(self, node: IConstruct) -> None:
        # jsii hands back the Python object itself: telling it costs no jsii call.
        if node is self._dashboard:
            self._dashboard._add_found_rows()


def _row(ota: JobMetrics, period: Duration | None) -> list[cloudwatch.IWidget]:
    """The OTA update's executions by status over time, and its success and failure rates."""
    title = _title(ota)
    totals: list[cloudwatch.IMetric] = [
        ota._job_metric(status, True, {"label": status}) for status in JOB_METRICS
    ]
    return [
        cloudwatch.GraphWidget(
            title=f"{title}: executions by status",
            left=totals,
            left_y_axis=cloudwatch.YAxisProps(min=0, label="Executions", show_units=False),
            period=period,
            width=GRAPH_WIDTH,
            height=ROW_HEIGHT,
        ),
        cloudwatch.SingleValueWidget(
            title=f"{title}: finished executions",
            metrics=[success_rate(ota, period=period), failure_rate(ota, period=period)],
            period=period,
            width=RATES_WIDTH,
            height=ROW_HEIGHT,
        ),
    ]


def _title(ota: JobMetrics) -> str:
    """The OTA update's construct path: its stack and id, unique in the app."""
    return ota.node.path if isinstance(ota, Construct) else str(ota)


def _checked(scope: Construct, ota_updates: Sequence[IOtaUpdate]) -> tuple[IOtaUpdate, ...]:
    """The OTA updates, each once; anything but a sequence of OTA updates refused."""
    if isinstance(ota_updates, (str, bytes)) or not isinstance(ota_updates, Sequence):
        raise OtaUpdateValidationError(
            f"{scope.node.path}: ota_updates = {ota_updates!r} is invalid: it must be a list of "
            "OTA updates: give ota_updates=[ota_update, ...]"
        )
    unique: dict[int, IOtaUpdate] = {}
    for index, ota in enumerate(ota_updates):
        if not isinstance(ota, JobMetrics):
            raise OtaUpdateValidationError(
                f"{scope.node.path}: ota_updates[{index}] = {ota!r} is invalid: it must be an "
                "OtaUpdate, or one imported with OtaUpdate.from_ota_update_id/arn"
            )
        unique.setdefault(id(ota), ota)
    if not unique:
        raise OtaUpdateValidationError(
            f"{scope.node.path}: ota_updates = [] is invalid: it must name at least one OTA "
            "update: give ota_updates=[ota_update, ...], or omit it to show every OtaUpdate"
        )
    return tuple(unique.values())


def _check_name(scope: Construct, name: str | None) -> None:
    if name is None or (isinstance(name, str) and Token.is_unresolved(name)):
        return
    if not isinstance(name, str) or not _DASHBOARD_NAME.fullmatch(name):
        raise OtaUpdateValidationError(
            f"{scope.node.path}: dashboard_name = {name!r} is invalid: it must be 1 to 255 "
            "letters, digits, '-' or '_' (CloudWatch's DashboardName): give for example "
            'dashboard_name="firmware-rollout"'
        )
