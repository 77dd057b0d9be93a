"""The job lifecycle's table, without a store: every (state, event) pair and what it does."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from gencredits.billing.jobs import Action, JobEvent, next_step
from gencredits.billing.views import Outcome
from gencredits.errors import InvalidTransition
from gencredits.ledger.model import Job, JobState

NOW = datetime(2026, 11, 30, tzinfo=UTC)


def job(state: JobState) -> Job:
    return Job(
        "job_1",
        "w",
        "generation",
        "m",
        state,
        {},
        1,
        None,
        None,
        None,
        None,
        5,
        5,
        5,
        0,
        0,
        (),
        None,
        None,
        {},
        None,
        NOW,
        NOW,
    )


S, E = JobState, JobEvent
TABLE = {
    (S.PENDING, E.COMPLETE): (Action.CAPTURE, None, None),
    (S.PENDING, E.FAIL): (Action.RELEASE, S.FAILED, None),
    (S.PENDING, E.CANCEL): (Action.RELEASE, S.CANCELLED, None),
    (S.PENDING, E.TIMEOUT): (Action.RELEASE, S.TIMED_OUT, None),
    (S.TIMED_OUT, E.COMPLETE): (Action.LATE_CAPTURE, None, None),
    (S.TIMED_OUT, E.FAIL): (Action.NOTHING, None, Outcome.ALREADY_TIMED_OUT),
    (S.TIMED_OUT, E.CANCEL): (Action.NOTHING, None, Outcome.ALREADY_TIMED_OUT),
    (S.SUCCEEDED, E.COMPLETE): (Action.NOTHING, None, Outcome.ALREADY_SUCCEEDED),
    (S.SUCCEEDED, E.FAIL): (Action.NOTHING, None, Outcome.ALREADY_SUCCEEDED),
    (S.SUCCEEDED_AFTER_TIMEOUT, E.COMPLETE): (Action.NOTHING, None, Outcome.ALREADY_SUCCEEDED),
    (S.SUCCEEDED_AFTER_TIMEOUT, E.FAIL): (Action.NOTHING, None, Outcome.ALREADY_SUCCEEDED),
    (S.FAILED, E.COMPLETE): (Action.NOTHING, None, Outcome.ALREADY_FAILED),
    (S.FAILED, E.FAIL): (Action.NOTHING, None, Outcome.ALREADY_FAILED),
    (S.FAILED, E.CANCEL): (Action.NOTHING, None, Outcome.ALREADY_FAILED),
    (S.CANCELLED, E.COMPLETE): (Action.NOTHING, None, Outcome.ALREADY_CANCELLED),
    (S.CANCELLED, E.FAIL): (Action.NOTHING, None, Outcome.ALREADY_CANCELLED),
    (S.CANCELLED, E.CANCEL): (Action.NOTHING, None, Outcome.ALREADY_CANCELLED),
}


@pytest.mark.parametrize(("state", "event"), sorted(TABLE))
def test_each_state_and_event_has_one_step(state: JobState, event: JobEvent) -> None:
    step = next_step(job(state), event)
    assert (step.action, step.state, step.outcome) == TABLE[state, event]


@pytest.mark.parametrize("state", [S.SUCCEEDED, S.SUCCEEDED_AFTER_TIMEOUT])
def test_a_success_cannot_be_cancelled(state: JobState) -> None:
    with pytest.raises(InvalidTransition) as err:
        next_step(job(state), E.CANCEL)
    assert err.value.details["state"] == state


def test_a_hold_resolves_once_only_a_pending_job_moves_credits() -> None:
    for state in JobState:
        for event in JobEvent:
            if state in (S.SUCCEEDED, S.SUCCEEDED_AFTER_TIMEOUT) and event == E.CANCEL:
                continue
            moves = next_step(job(state), event).action != Action.NOTHING
            assert moves == (state == S.PENDING or (state, event) == (S.TIMED_OUT, E.COMPLETE))


def test_fingerprints_keep_their_documented_text() -> None:
    """A retry after an upgrade must still replay: the fingerprint is sha256 of the JSON of
    [operation, request], keys sorted, no spaces; the request names every field asked for
    (not ``submitted_by``, the service's attribution: records of earlier versions, which
    covered it, are matched by the legacy fingerprint)."""
    import hashlib
    import json

    from gencredits.billing.inputs import CompleteJob, CreateWallet, GrantCredits, SubmitJob

    def expected(operation: str, request: dict[str, object]) -> str:
        text = json.dumps([operation, request], sort_keys=True, default=str, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    submit = SubmitJob("w", "m", {"duration": 5}, 2, None, "u", None, {"a": "b"})
    asked = {
        "wallet_id": "w",
        "model": "m",
        "params": {"duration": 5},
        "generations": 2,
        "catalog": None,
        "hold_ttl_s": None,
        "metadata": {"a": "b"},
    }
    assert submit.fingerprint() == expected("submit", asked)
    assert submit.legacy_fingerprints() == (expected("submit", {**asked, "submitted_by": "u"}),)
    wallet = CreateWallet("w", "team", 5, None)
    made = {"wallet_id": "w", "owner_kind": "team", "overdraft_limit": 5, "hold_ttl_s": None}
    assert wallet.fingerprint() == expected("create_wallet", made)  # as before 0004
    shared = CreateWallet("w", "team", 5, None, Decimal("0.50"))
    assert shared.fingerprint() == expected("create_wallet", {**made, "extra_charge_share": "0.5"})
    grant = GrantCredits("w", 5, "bonus", {"bonus": 30}, None, NOW, None, "s")
    assert grant.fingerprint() == expected(
        "grant",
        {
            "wallet_id": "w",
            "amount": 5,
            "kind": "bonus",
            "priority": None,
            "expires_at": NOW,
            "effective_at": None,
            "source": "s",
        },
    )
    done = CompleteJob("job_1", None, 3)
    assert done.fingerprint() == expected(
        "complete", {"job_id": "job_1", "actual_params": {}, "actual_generations": 3}
    )
