"""Schemathesis against the live service: every documented operation, with generated
valid and invalid input and a real key, never answers 5xx, never answers a status or a
body its ``/openapi.json`` does not document, and rejects what the schema forbids.

(Driven through Schemathesis' Python API with Hypothesis directly: its lazy pytest
loader does not run under this pytest version.)"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from tests.api.conftest import LiveService

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES_PER_OPERATION = 25


def exerciser(operation: Any, mode: GenerationMode, base_url: str, headers: dict[str, str]) -> Any:
    checks = CHECKS + ([negative_data_rejection] if mode.is_negative else [])

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
    schema = schemathesis.openapi.from_url(live.url + "/openapi.json")
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
