"""How ``cdk-ota-update status`` shows the rollouts: a table with progress bars (``rich``, on a
terminal), the same table in plain text (in a pipe, or without rich), or a JSON document."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from cdk_ota_update.job_metrics import PROCESS_COUNTS
from cdk_ota_update.rollout import SUCCESS, Condition, Rollout, Verdict, status_name

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.text import Text

INSTALL_RICH = 'pip install "cdk-ota-update[status]"'
BAR_WIDTH = 12
# The columns of the executions: the outcomes first.
STATUS_COLUMNS = (
    SUCCESS,
    "FAILED",
    "REJECTED",
    "TIMED_OUT",
    "IN_PROGRESS",
    "QUEUED",
    "CANCELED",
    "REMOVED",
)


@dataclass(frozen=True)
class Row:
    """One OTA update as the table shows it."""

    rollout: Rollout
    verdict: Verdict | None  # None without --until


@dataclass(frozen=True)
class Columns:
    """Which optional columns the table has."""

    stack: bool
    until: bool

    @classmethod
    def of(cls, rows: Sequence[Row]) -> Columns:
        return cls(
            stack=any(row.rollout.stack for row in rows),
            until=any(row.verdict for row in rows),
        )


def headers(columns: Columns) -> list[str]:
    stack = ["stack resource"] if columns.stack else []
    counts = [status_name(status) for status in STATUS_COLUMNS]
    until = ["until"] if columns.until else []
    return ["OTA update", *stack, "OTA update status", "job status", "executions", *counts, *until]


def cells(row: Row, columns: Columns) -> list[str]:
    """The row's texts, in the order of :func:`headers`."""
    rollout = row.rollout
    stack = [f"{rollout.stack}/{rollout.logical_id}" if rollout.stack else "-"]
    executions = rollout.executions
    has_job = rollout.job_status is not None
    counts = [_count(rollout, status) if has_job else "-" for status in STATUS_COLUMNS]
    return [
        rollout.ota_update_id,
        *(stack if columns.stack else []),
        rollout.ota_update_status or "NOT FOUND",
        rollout.job_status or "-",
        str(executions.total) if has_job else "-",
        *counts,
        *([row.verdict.outcome if row.verdict else "-"] if columns.until else []),
    ]


def _count(rollout: Rollout, status: str) -> str:
    count = rollout.executions.counts[status]
    share = rollout.executions.percent(status)
    return f"{count} ({share:.1f}%)" if count and share is not None else str(count)


def notes(rows: Sequence[Row]) -> list[str]:
    """A line per OTA update with something to say: its verdict's reason, or its problem."""
    lines = []
    for row in rows:
        if row.verdict is not None:
            lines.append(
                f"{row.rollout.ota_update_id}: {row.verdict.outcome}: {row.verdict.reason}"
            )
        elif row.rollout.problem:
            lines.append(f"{row.rollout.ota_update_id}: {row.rollout.problem}")
    return lines


def plain_table(rows: Sequence[Row]) -> list[str]:
    """The table as lines of text, columns aligned with spaces, then the notes."""
    columns = Columns.of(rows)
    table = [headers(columns), *(cells(row, columns) for row in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in table]
    return [line.rstrip() for line in lines] + notes(rows)


def rich_console(out: TextIO) -> Console | None:
    """A rich Console on ``out`` if rich is installed and ``out`` is a terminal (as rich judges it:
    ``TTY_COMPATIBLE``, ``FORCE_COLOR``), else None: then the table is plain text."""
    try:
        from rich.console import Console
    except ImportError:
        return None
    console = Console(file=out, highlight=False)
    return console if console.is_terminal else None


def rich_table(rows: Sequence[Row]) -> RenderableType:
    """A compact table (an OTA update a row: its status, a progress bar of the share that
    succeeded, the executions per status), then the notes."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    columns = Columns.of(rows)
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("OTA update", overflow="fold", ratio=2)
    table.add_column("status", no_wrap=True, min_width=11)
    table.add_column("succeeded", no_wrap=True, min_width=BAR_WIDTH + 7)
    table.add_column("executions", overflow="fold", ratio=3, min_width=12)
    if columns.until:
        table.add_column("until", no_wrap=True, min_width=8)
    for row in rows:
        rollout, share = row.rollout, row.rollout.executions.percent(SUCCESS)
        name = Text(rollout.ota_update_id)
        if rollout.stack:
            name.append(f"\n{rollout.stack}/{rollout.logical_id}", style="dim")
        texts: list[RenderableType] = [
            _styled(name, row),
            _styled(Text(rollout.job_status or rollout.ota_update_status or "NOT FOUND"), row),
            _bar(share),
            Text(_executions(rollout)),
        ]
        if columns.until:
            texts.append(_styled(Text(row.verdict.outcome if row.verdict else "-"), row))
        table.add_row(*texts)
    return Group(table, *(Text(line) for line in notes(rows)))


def _bar(share: float | None) -> RenderableType:
    """A progress bar of the share that succeeded, and the share."""
    from rich.progress_bar import ProgressBar
    from rich.table import Table

    if share is None:
        return "-"
    grid = Table.grid(padding=(0, 1))
    grid.add_row(ProgressBar(total=100, completed=share, width=BAR_WIDTH), f"{share:5.1f}%")
    return grid


def _executions(rollout: Rollout) -> str:
    """``1000: 930 succeeded, 15 failed, 55 queued``: the statuses with executions."""
    if rollout.job_status is None:
        return "-"
    counts = rollout.executions.counts
    shown = [f"{counts[s]} {status_name(s)}" for s in STATUS_COLUMNS if counts[s]]
    return f"{rollout.executions.total}" + (f": {', '.join(shown)}" if shown else "")


def _styled(text: Text, row: Row) -> Text:
    """A cell's text, red when its OTA update failed (or has a problem), green when it met."""
    outcome = row.verdict.outcome if row.verdict else ("failed" if row.rollout.problem else None)
    style = {"failed": "red", "met": "green"}.get(outcome or "")
    if style:
        text.stylize(style)
    return text


def rollout_json(row: Row) -> dict[str, Any]:
    """One OTA update in the JSON document (README, "Watch a rollout from a pipeline")."""
    rollout, executions = row.rollout, row.rollout.executions
    return {
        "otaUpdateId": rollout.ota_update_id,
        "stack": rollout.stack,
        "logicalId": rollout.logical_id,
        "otaUpdateStatus": rollout.ota_update_status,
        "awsIotJobId": rollout.job_id,
        "jobStatus": rollout.job_status,
        "rollingOut": rollout.rolling_out,
        "ended": rollout.ended,
        "executions": {"total": executions.total, **_by_status(executions.counts)},
        "percentages": _by_status({s: _rounded(executions.percent(s)) for s in executions.counts}),
        "problem": rollout.problem,
        "verdict": row.verdict.outcome if row.verdict else None,
        "reason": row.verdict.reason if row.verdict else None,
    }


def document(
    rows: Sequence[Row],
    conditions: Sequence[Condition],
    verdict: str | None,
    exit_status: int,
    summary: str,
) -> dict[str, Any]:
    """The JSON document of ``--json``."""
    return {
        "otaUpdates": [rollout_json(row) for row in rows],
        "until": [str(condition) for condition in conditions] or None,
        "verdict": verdict,
        "summary": summary,
        "exitStatus": exit_status,
    }


def _by_status(values: Mapping[str, Any]) -> dict[str, Any]:
    """``{"IN_PROGRESS": 3}`` -> ``{"inProgress": 3}``, in jobProcessDetails' order."""
    return {_camel(status): values[status] for status in PROCESS_COUNTS}


def _camel(status: str) -> str:
    first, *rest = status.lower().split("_")
    return first + "".join(word.title() for word in rest)


def _rounded(share: float | None) -> float | None:
    return None if share is None else round(share, 2)
