"""The OpenAPI document names and types things as people would: every operation has a short, stable
``operationId`` (``createQuote``, ``getWallet``, ``submitJob``) and every body and answer
is a named component (``QuoteCreate``, ``JobPage``), so a client generated from it has
names a person would write, not ``create_quote_v1_quotes_post``; timestamps, states,
outcomes, statuses, kinds and error codes say what they hold."""

from __future__ import annotations

import builtins
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI

from gencredits.api import create_app
from gencredits.config import load_settings

CAMEL = re.compile(r"^[a-z]+(?:[A-Z][a-z]+)*$")


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    url = f"sqlite:///{tmp_path_factory.mktemp('names') / 'unused.db'}"
    app: FastAPI = create_app(load_settings(database_url=url))
    return app.openapi()


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield method, path, operation


def test_every_operation_has_a_short_unique_camel_case_id(document: dict[str, Any]) -> None:
    ids = [op["operationId"] for _, _, op in operations(document)]
    assert len(ids) == len(set(ids))
    assert [i for i in ids if not CAMEL.match(i) or len(i) > 25] == []
    named = {(m, p): op["operationId"] for m, p, op in operations(document)}
    assert named[("post", "/v1/quotes")] == "createQuote"
    assert named[("get", "/v1/wallets/{wallet_id}")] == "getWallet"
    assert named[("post", "/v1/wallets/{wallet_id}/jobs")] == "submitJob"
    assert named[("get", "/v1/wallets/{wallet_id}/history")] == "getWalletHistory"
    assert named[("get", "/healthz")] == "getHealth"


def test_every_body_and_answer_is_a_named_schema(document: dict[str, Any]) -> None:
    components = document["components"]["schemas"]
    for method, path, op in operations(document):
        body = op.get("requestBody", {}).get("content", {}).get("application/json")
        if body is not None:
            text = json.dumps(body["schema"])
            assert "$ref" in text and '"properties"' not in text, (method, path)
        answer = op["responses"].get("200", op["responses"].get("201"))
        schema = answer.get("content", {}).get("application/json", {}).get("schema")
        if schema is not None:
            assert "$ref" in json.dumps(schema), (method, path)
    assert {"QuoteCreate", "JobPage", "WalletPage", "EntryPage"} <= set(components)
    assert [name for name in components if not re.match(r"^[A-Z][A-Za-z]+$", name)] == []
    refs = re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(document))
    assert set(refs) <= set(components)


def test_answers_declare_their_types(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for name in ("JobView", "GrantView", "WalletView", "EntryView"):
        for field, schema in schemas[name]["properties"].items():
            if field.endswith("_at"):
                assert "date-time" in json.dumps(schema), (name, field)
    job, grant = schemas["JobView"]["properties"], schemas["GrantView"]["properties"]
    assert job["status"]["enum"] == [0, 1, 2]
    assert "succeeded" in job["state"]["enum"]
    assert "released" in json.dumps(job["outcome"])
    assert "#/components/schemas/QuotePublic" in json.dumps(job["quote"])
    assert job["credits_used"]["deprecated"] is True and "deprecated" not in job["creditsUsed"]
    assert set(grant["kind"]["enum"]) >= {"allowance", "purchase"}
    assert grant["state"]["enum"] == ["active", "expired", "voided"]
    assert "release" in schemas["EntryView"]["properties"]["kind"]["enum"]
    codes = schemas["ErrorBody"]["properties"]["code"]["enum"]
    assert {"insufficient_credits", "idempotency_conflict", "invalid_request"} <= set(codes)


#: Names a generator renames (it appends ``_``): Python's builtins, as openapi-python-client
#: counts them (it leaves ``id`` alone, the name every API uses).
GENERATOR_RENAMES = (set(dir(builtins)) | {"self", "true", "false", "datetime"}) - {"id"}
#: Each old name kept for existing clients -> the name to use now.
RENAMED = {
    ("CatalogPublic", "hash"): "content_hash",
    ("QuoteLinePublic", "credits"): "line_credits",
}


def test_no_field_a_generator_must_rename_except_deprecated_ones(document: dict[str, Any]) -> None:
    """A field named like a Python builtin is kept only as a deprecated alias of a new name,
    which the schema requires and describes (so generated clients use the new name)."""
    shadowing = {}
    for name, schema in document["components"]["schemas"].items():
        for field, spec in schema.get("properties", {}).items():
            if field in GENERATOR_RENAMES:
                shadowing[(name, field)] = spec
    assert set(shadowing) == set(RENAMED)
    for (name, old), spec in shadowing.items():
        schema = document["components"]["schemas"][name]
        new = RENAMED[(name, old)]
        assert spec.get("deprecated") is True and new in spec["description"], (name, old)
        assert new not in GENERATOR_RENAMES
        assert "deprecated" not in schema["properties"][new]
        assert {old, new} <= set(schema["required"])
    for _, _, op in operations(document):
        for parameter in op.get("parameters", []):
            assert parameter["name"] not in GENERATOR_RENAMES, (op["operationId"], parameter)
