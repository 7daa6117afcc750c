"""``cdk-ota-update status``: the rollouts of deployed OTA updates, once or until they end.

Exit status: 0 the ``--until`` conditions are met by every OTA update (without ``--until``: every
OTA update and its job were found, and with ``--watch`` every rollout ended); 1 they failed, or are
not met yet (without ``--watch``, or at ``--timeout``); 2 a usage error, or the rollouts could not
be read (no credentials or Region, AWS unreachable, a stack that does not exist).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, TextIO

from cdk_ota_update.rollout import (
    FAILED,
    MET,
    PENDING,
    Condition,
    ConditionError,
    Rollout,
    judge,
    overall,
    parse_conditions,
)

from .aws import CALLS_PER_SECOND, Aws, Pacer, StatusError, Target
from .view import INSTALL_RICH, Row, document, plain_table, rich_console, rich_table

if TYPE_CHECKING:
    from rich.console import Console

OK, NOT_MET, CANNOT_READ = 0, 1, 2
DEFAULT_INTERVAL = 10.0
MINIMUM_INTERVAL = 1.0
HELP_WIDTH = 96
DESCRIPTION = (
    "Show the rollout of deployed OTA updates: each OTA update's status, its job's status, the "
    "job's executions per status and the share of them that succeeded (percentages are of all "
    "the executions the job has), as a table with progress bars on a terminal "
    f"({INSTALL_RICH}), plain text in a pipe, or JSON; --until ends a pipeline step on a threshold."
)
UNTIL_HELP = (
    "--until: STATUS>=N% or STATUS=N% (at least N percent), STATUS>N% (more than), or a count "
    "instead of a percentage (succeeded>=10); succeeded makes a success condition, failed, "
    "rejected, timed-out, canceled and removed failure conditions. Exit 0 once every OTA update "
    "meets them (no failure condition holds, every success condition does, and its job has rolled "
    "out to every target); exit 1 as soon as a failure condition holds, an OTA update or its job "
    "is missing, or a job ended (COMPLETED, CANCELED, DELETION_IN_PROGRESS) without meeting them; "
    "without --watch, exit 1 when they are not met yet."
)
CALLS_HELP = (
    "API calls: ListStackResources once per stack (each page); then per poll, per OTA update still "
    "rolling out, one DescribeJob (and a GetOTAUpdate until the OTA update is CREATE_COMPLETE); an "
    f"ended rollout is not read again. At most {CALLS_PER_SECOND:g} calls a second of each "
    f"operation: with the default --interval of {DEFAULT_INTERVAL:g} s, "
    f"{60 / DEFAULT_INTERVAL:g} DescribeJob calls a minute per OTA update, and never more than "
    f"{60 * CALLS_PER_SECOND:g} a minute of any operation whatever the number of OTA updates "
    "(IoT's default quotas: 10 a second of GetOTAUpdate and of DescribeJob)."
)
EXIT_HELP = (
    "Exit status: 0 met (without --until: all found, and with --watch all ended), 1 failed or not "
    "met yet, 2 a usage error or the rollouts could not be read (credentials, Region, endpoint, "
    "stack)."
)


@dataclass
class Environment:
    """Where the command writes, and its clock (tests give a simulated one)."""

    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``status``, on the subcommand's parser or a standalone one."""
    parser.description = textwrap.fill(DESCRIPTION, HELP_WIDTH)
    parser.epilog = "\n\n".join(
        textwrap.fill(text, HELP_WIDTH, subsequent_indent="  ")
        for text in (UNTIL_HELP, CALLS_HELP, EXIT_HELP)
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "--stack",
        action="append",
        default=[],
        metavar="NAME",
        help="the Custom::OtaUpdate resources of this deployed stack (name or id); repeatable",
    )
    parser.add_argument(
        "--ota-update-id",
        action="extend",
        nargs="+",
        default=[],
        metavar="ID",
        help="these OTA updates; repeatable",
    )
    parser.add_argument(
        "--until",
        action="append",
        default=[],
        type=_conditions,
        metavar="EXPR[,EXPR]",
        help="conditions that decide the exit status, e.g. succeeded>=95%%,failed>2%% (see below)",
    )
    parser.add_argument(
        "--watch", action="store_true", help="poll until decided (or until the rollouts end)"
    )
    parser.add_argument(
        "--interval",
        type=_interval,
        default=DEFAULT_INTERVAL,
        metavar="SECONDS",
        help=f"between polls with --watch (default {DEFAULT_INTERVAL:g}, at least "
        f"{MINIMUM_INTERVAL:g})",
    )
    parser.add_argument(
        "--timeout",
        type=_duration,
        metavar="DURATION",
        help="with --watch: give up (exit 1, with the figures) after this long: 90, 90s, 30m, 2h",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON document (README)")
    parser.add_argument("--region", help="the AWS Region (default: the profile's or AWS_REGION)")
    parser.add_argument("--profile", help="the AWS profile to use")
    parser.add_argument(
        "--endpoint-url",
        metavar="URL",
        help="for IoT and CloudFormation alike, e.g. the emulation's server (moto_server)",
    )


def parser() -> argparse.ArgumentParser:
    """``status`` on its own (``cdk-ota-update status`` gets the same options)."""
    standalone = argparse.ArgumentParser(prog="cdk-ota-update status")
    add_arguments(standalone)
    return standalone


def main(argv: Sequence[str] | None = None, environment: Environment | None = None) -> int:
    """``cdk-ota-update status ARGV``, writing to ``environment`` (default: stdout, stderr, the
    real clock); returns the exit status."""
    return run(parser().parse_args(argv), environment or Environment())


def _conditions(text: str) -> tuple[Condition, ...]:
    try:
        return parse_conditions([text])
    except ConditionError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def _interval(text: str) -> float:
    seconds = _duration(text)
    if seconds < MINIMUM_INTERVAL:
        raise argparse.ArgumentTypeError(f"{text!r}: at least {MINIMUM_INTERVAL:g} second")
    return seconds


def _duration(text: str) -> float:
    """``90``, ``90s``, ``30m``, ``2h`` in seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text)
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration: 90, 90s, 30m or 2h")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


# ---------------------------------------------------------------------------------------------
# Following the rollouts
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Options:
    """What to follow and how long."""

    conditions: tuple[Condition, ...]
    watch: bool
    interval: float
    timeout: float | None


@dataclass(frozen=True)
class Result:
    """The last poll's rows, what was asked and what it decided."""

    rows: tuple[Row, ...]
    conditions: tuple[Condition, ...]
    verdict: str | None  # MET, FAILED or PENDING; None without --until
    exit_status: int
    summary: str


class Display(Protocol):
    """Where the rows go at each poll, and the result at the end."""

    def show(self, rows: Sequence[Row]) -> None: ...

    def close(self, result: Result | None) -> None:
        """The end: ``result``'s summary, or nothing (None: an error or an interruption)."""


def run(arguments: argparse.Namespace, environment: Environment) -> int:
    """The command with parsed ``arguments``; returns the exit status."""
    if not (arguments.stack or arguments.ota_update_id):
        return _usage(environment, "give --stack NAME or --ota-update-id ID (or both)")
    if arguments.timeout is not None and not arguments.watch:
        return _usage(environment, "--timeout needs --watch")
    options = Options(
        tuple(c for parsed in arguments.until for c in parsed),
        arguments.watch,
        arguments.interval,
        arguments.timeout,
    )
    display = _display(arguments.json, arguments.watch, environment.out)
    result: Result | None = None
    try:
        aws = Aws.connect(
            region=arguments.region,
            profile=arguments.profile,
            endpoint_url=arguments.endpoint_url,
            pace=Pacer(environment.clock, environment.sleep),
        )
        targets = _targets(aws, arguments.stack, arguments.ota_update_id, environment.err)
        result = follow(aws, targets, options, environment, display)
        return result.exit_status
    except StatusError as error:
        print(f"cdk-ota-update status: {error}", file=environment.err)
        return CANNOT_READ
    finally:
        display.close(result)  # a live table is stopped whatever happened


def _usage(environment: Environment, message: str) -> int:
    print(f"cdk-ota-update status: error: {message}", file=environment.err)
    return CANNOT_READ


def _targets(aws: Aws, stacks: Sequence[str], ids: Sequence[str], err: TextIO) -> list[Target]:
    """The OTA updates of the stacks, then those named, each once."""
    targets: dict[str, Target] = {}
    for stack in stacks:
        found = aws.stack_targets(stack)
        if not found:
            print(f"cdk-ota-update status: stack {stack} has no Custom::OtaUpdate", file=err)
        for target in found:
            targets.setdefault(target.ota_update_id, target)
    for ota_update_id in ids:
        targets.setdefault(ota_update_id, Target(ota_update_id))
    if not targets:
        raise StatusError("no OTA update to show")
    return list(targets.values())


def follow(
    aws: Aws,
    targets: Sequence[Target],
    options: Options,
    environment: Environment,
    display: Display,
) -> Result:
    """Read the rollouts, show them, and again every ``options.interval`` with ``--watch`` until
    decided (or ended) or ``options.timeout``."""
    deadline = None if options.timeout is None else environment.clock() + options.timeout
    rollouts: dict[str, Rollout] = {}
    while True:
        rollouts = {t.ota_update_id: aws.read(t, rollouts.get(t.ota_update_id)) for t in targets}
        rows = tuple(
            Row(r, judge(r, options.conditions) if options.conditions else None)
            for r in rollouts.values()
        )
        display.show(rows)
        now, decided = environment.clock(), _decided(rows, options)
        timed_out = not decided and deadline is not None and now >= deadline
        if not options.watch or decided or timed_out:
            return _result(rows, options, timed_out)
        wait = options.interval if deadline is None else min(options.interval, deadline - now)
        environment.sleep(wait)


def _decided(rows: Sequence[Row], options: Options) -> bool:
    if options.conditions:
        return overall(row.verdict for row in rows if row.verdict) != PENDING
    return all(row.rollout.ended for row in rows)


def _result(rows: tuple[Row, ...], options: Options, timed_out: bool) -> Result:
    if options.conditions:
        verdict: str | None = overall(row.verdict for row in rows if row.verdict)
        status = OK if verdict == MET else NOT_MET
        text = _until_summary(rows, options, verdict, timed_out)
    else:
        verdict = None
        status = NOT_MET if timed_out or any(row.rollout.problem for row in rows) else OK
        text = _rollouts_summary(rows, options, timed_out)
    return Result(rows, options.conditions, verdict, status, f"{text} (exit status {status})")


def _until_summary(
    rows: Sequence[Row], options: Options, verdict: str | None, timed_out: bool
) -> str:
    until = "--until " + ",".join(str(condition) for condition in options.conditions)
    if verdict == MET:
        return f"{until}: met by every OTA update"
    outcome = FAILED if verdict == FAILED else PENDING
    ids = ", ".join(
        r.rollout.ota_update_id for r in rows if r.verdict and r.verdict.outcome == outcome
    )
    if verdict == FAILED:
        return f"{until}: failed by {ids}"
    if timed_out:
        return f"{until}: not met yet by {ids} after --timeout {options.timeout:g} s"
    return f"{until}: not met yet by {ids}" + ("" if options.watch else "; --watch waits for it")


def _rollouts_summary(rows: Sequence[Row], options: Options, timed_out: bool) -> str:
    ended = sum(row.rollout.ended for row in rows)
    problems = sum(bool(row.rollout.problem) for row in rows)
    text = f"{len(rows)} OTA update(s): {len(rows) - ended} rolling out, {ended} ended"
    text += f", {problems} not found or not created" if problems else ""
    return text + (
        f"; still rolling out after --timeout {options.timeout:g} s" if timed_out else ""
    )


# ---------------------------------------------------------------------------------------------
# Displays
# ---------------------------------------------------------------------------------------------
def _display(as_json: bool, watch: bool, out: TextIO) -> Display:
    if as_json:
        return JsonDisplay(out)
    console = rich_console(out)
    return PlainDisplay(out) if console is None else RichDisplay(console, watch)


@dataclass
class PlainDisplay:
    """The plain table, printed again (after a blank line) whenever it changed."""

    out: TextIO
    shown: list[str] | None = None

    def show(self, rows: Sequence[Row]) -> None:
        lines = plain_table(rows)
        if lines != self.shown:
            if self.shown is not None:
                print(file=self.out)
            print("\n".join(lines), file=self.out, flush=True)
            self.shown = lines

    def close(self, result: Result | None) -> None:
        if result is not None:
            print(result.summary, file=self.out)


class RichDisplay:
    """The table with progress bars, refreshed in place with ``--watch``."""

    def __init__(self, console: Console, watch: bool) -> None:
        from rich.live import Live

        self.console = console
        self.live = Live(console=console, auto_refresh=False) if watch else None
        self.started = False

    def show(self, rows: Sequence[Row]) -> None:
        table = rich_table(rows)
        if self.live is None:
            self.console.print(table)
            return
        if not self.started:
            self.live.start()
            self.started = True
        self.live.update(table, refresh=True)

    def close(self, result: Result | None) -> None:
        if self.live is not None and self.started:
            self.live.stop()
        if result is not None:
            self.console.print(result.summary, markup=False)


@dataclass
class JsonDisplay:
    """Nothing while polling; the JSON document of the end."""

    out: TextIO

    def show(self, rows: Sequence[Row]) -> None:
        pass

    def close(self, result: Result | None) -> None:
        if result is None:
            return
        summary = document(
            result.rows, result.conditions, result.verdict, result.exit_status, result.summary
        )
        print(json.dumps(summary, indent=2), file=self.out)
