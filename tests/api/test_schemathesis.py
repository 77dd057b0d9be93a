"""Schemathesis against the live service, with every one of its checks: every documented
operation, with generated valid and invalid input and a real key, never answers 5xx,
never answers a status, a header or a body its ``/openapi.json`` does not document, rejects
what the schema forbids, enforces its key; and a stateful run chains operations through
the links Schemathesis infers from the document (a wallet's id into its grants and jobs,
a job's id into complete, fail, cancel) with the same checks.

One setting is ours: schema-valid data may also be refused with 402 (a balance) or 422
(what a JSON schema cannot say: whether a model is in a catalog, a value is offered, a
text is printable).  Every other status of ``positive_data_acceptance`` stays refused,
except on the Stripe webhook alone, whose schema-valid bodies are refused (400) unless
their ``Stripe-Signature`` verifies, which no schema can say: that one operation runs every
check but ``positive_data_acceptance``.

(Driven through Schemathesis' Python API with Hypothesis directly: its lazy pytest
loader does not run under this pytest version.)"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.config._auth import OpenAPIAuthConfig
from schemathesis.generation import GenerationMode
from tests.api.conftest import LiveService

EXAMPLES_PER_OPERATION = 25
STATEFUL_EXAMPLES = 25
STATEFUL_STEPS = 6
#: Refusals of schema-valid data that the document cannot express (see the docstring).
ACCEPTED_REFUSALS = ["402", "422"]
#: Operations whose valid-looking bodies are refused by a signature (see the docstring).
SIGNED_PATHS = {"/v1/webhooks/stripe"}


def all_checks() -> list[Any]:
    load_all_checks()
    return list(CHECKS.get_all())


def load(live: LiveService, key: str) -> Any:
    schema = schemathesis.openapi.from_url(live.url + "/openapi.json")
    acceptance = schema.config.checks.positive_data_acceptance
    acceptance.expected_statuses = [*acceptance.expected_statuses, *ACCEPTED_REFUSALS]
    return schema


def exerciser(operation: Any, mode: GenerationMode, base_url: str, headers: dict[str, str]) -> Any:
    checks = all_checks()
    if operation.path in SIGNED_PATHS:
        checks = [c for c in checks if c.__name__ != "positive_data_acceptance"]
        assert len(checks) == len(all_checks()) - 1

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,  # the same examples every run: a failure replays
        database=None,
    )
    def exercise(case: Any) -> None:
        case.call_and_validate(base_url=base_url, headers=headers, checks=checks)

    return exercise


def test_the_live_service_keeps_its_schema(live: LiveService, keys: dict[str, str]) -> None:
    schema = load(live, keys["admin"])
    assert len(all_checks()) >= 14
    headers = {"Authorization": f"Bearer {keys['admin']}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 11
    negative_runs = 0
    for operation in operations:
        exerciser(operation, GenerationMode.POSITIVE, live.url, headers)()
        try:
            exerciser(operation, GenerationMode.NEGATIVE, live.url, headers)()
            negative_runs += 1
        except Unsatisfiable:
            pass  # an operation without inputs (/healthz) has no invalid request to make
    assert negative_runs >= 8


def test_chained_operations_keep_the_schema(live: LiveService, keys: dict[str, str]) -> None:
    """The stateful run: Schemathesis' state machine over the inferred links, all checks."""
    schema = load(live, keys["admin"])
    # The key as the document's bearer scheme: Schemathesis knows it for auth, and its
    # ignored_auth check probes each operation without it and with a wrong one.
    schema.config.auth.openapi = OpenAPIAuthConfig(schemes={"ApiKey": {"bearer": keys["admin"]}})
    workflow = schema.as_state_machine()
    assert schema.statistic.transitions.total >= 10  # wallet -> grants, jobs; job -> complete...
    workflow.run(
        settings=settings(
            max_examples=STATEFUL_EXAMPLES,
            stateful_step_count=STATEFUL_STEPS,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
    )
