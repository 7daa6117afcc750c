"""The time budget and the ResponseURL's clock, as the contract (``cdk_ota_update.api``) holds
them: the README states each figure a user plans with, and must state what the contract
computes; CloudFormation's own figures are pinned as its documentation gives them."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from cdk_ota_update import api

pytestmark = pytest.mark.fast  # the loop on every change (CONTRIBUTING.md)

README = " ".join((Path(__file__).resolve().parents[2] / "README.md").read_text().split())
SIGNED = datetime(2026, 12, 5, 1, 2, 3, tzinfo=timezone.utc).timestamp()


def test_the_readme_states_the_time_budget_as_the_contract_computes_it() -> None:
    """The figures are written once, in ``api``; the README's prose must follow them."""
    budget = api.TimeBudget()
    stated = [
        f"stops waiting ~{api.HANDOVER_MARGIN_SECONDS:.0f} s before its end",
        f"keeps ~{api.HANDOVER_MARGIN_SECONDS:.0f} s after it stops waiting",
        f"({api.CALL_CONNECT_TIMEOUT:.0f} s connect + {api.CALL_READ_TIMEOUT:.0f} s read)",
        f"each answer's PUT has a {api.PUT_TIMEOUT:.0f}-s timeout",
        f"a timeout under {api.MIN_FUNCTION_TIMEOUT_SECONDS / 60:g} minutes",
        f"or over {api.MAX_FUNCTION_TIMEOUT_SECONDS / 60:g} minutes",
        f"`api.EVENT_AGE_SECONDS` ({api.EVENT_AGE_SECONDS // 60} minutes)",
        f"`OTA_MAX_WAIT_SECONDS` ({api.MAX_WAIT_SECONDS / 60:.0f} minutes)",
        f"{api.CLOCK_SKEW_SECONDS} s for the clocks ({budget.service_timeout_seconds:,} s",
        f"with the default {api.FUNCTION_TIMEOUT_SECONDS // 60}-minute timeout",
    ]

    assert [text for text in stated if text not in README] == []


def test_the_response_urls_query_names_are_s3s_presigned_urls() -> None:
    """SigV4's signing time and lifetime, SigV2's expiry: what the handler reads and the
    rehearsal writes into the ResponseURLs it makes."""
    assert (api.RESPONSE_URL_SIGNED_AT, api.RESPONSE_URL_LIFETIME, api.RESPONSE_URL_EXPIRES) == (
        "X-Amz-Date",
        "X-Amz-Expires",
        "Expires",
    )


def test_cloudformations_own_figures_are_its_documentations() -> None:
    """A custom resource's ServiceTimeout: 3600 s when not given, and at most; a ResponseURL
    presigned with SigV2 expires 2 hours after CloudFormation signed it."""
    assert (api.SERVICE_TIMEOUT_DEFAULT, api.SERVICE_TIMEOUT_MAX) == (3600, 3600)
    assert api.RESPONSE_URL_SECONDS == 2 * 60 * 60


@pytest.mark.parametrize(
    ("query", "signed_at"),
    [
        ("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20261205T010203Z&X-Amz-Expires=7200", SIGNED),
        (f"AWSAccessKeyId=AKIA&Expires={SIGNED + 7200:.0f}&Signature=s", SIGNED),  # SigV2
        (f"X-Amz-Date=20261205T010203Z&Expires={SIGNED:.0f}", SIGNED),  # SigV4's date first
        ("X-Amz-Date=yesterday", None),
        ("Expires=soon", None),
        ("X-Amz-Signature=s", None),
        ("", None),
    ],
)
def test_when_cloudformation_signed_its_response_url(query: str, signed_at: float | None) -> None:
    url = f"https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/a?{query}"

    assert api.response_url_signed_at(url) == signed_at


def test_a_signing_time_written_as_a_response_url_date_reads_back() -> None:
    assert api.response_url_date(SIGNED) == "20261205T010203Z"
    assert api.response_url_signed_at(
        f"https://h/p?X-Amz-Date={api.response_url_date(SIGNED)}"
    ) == (SIGNED)


@pytest.mark.parametrize("gate_seconds", [0, 600])
def test_the_longest_gate_leaves_the_creation_its_wait_whatever_gate_the_budget_holds(
    gate_seconds: float,
) -> None:
    """The gate's rule is of the creation's wait (1,545 s with the default timeout), not of a gate
    the budget already counts."""
    rules = api.gate_rules(api.TimeBudget(gate_seconds=gate_seconds))
    rule = rules[f"{api.ROLLOUT_GATE}.{api.GATE_TIMEOUT_SECONDS}"]
    creation = api.TimeBudget().service_timeout_seconds

    assert rule.maximum == api.SERVICE_TIMEOUT_MAX - creation
    assert rule.why is not None
    assert f"the creation's wait takes {creation} s of it" in rule.why
