"""Hostile request bodies (issue #11): non-finite numbers, lone surrogates, duplicate keys,
NUL characters and dates, on every route that takes a body, on SQLite and PostgreSQL.

Each refusal is a 422 in the one error shape naming the field, the value (shown safely)
and what is allowed, and it changes nothing.  The reader itself and the error rendering
are checked in-process first (fast), then the live service."""

from __future__ import annotations

import json
import math
import socket
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.api.conftest import CALLBACK_SECRET, LiveService

from gencredits.api.body import is_json_media_type, parse_body
from gencredits.api.errors import json_safe, response_for, shown_value
from gencredits.api.routes.billing import sign_callback
from gencredits.errors import InvalidRequest

KLING_10S = {"model": "kling/v2-1-pro", "catalog": "api-pricing", "params": {"duration": 10}}
NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"]


def refusal(body: bytes) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as refused:
        parse_body(body)
    json.dumps(refused.value.to_dict(), allow_nan=False).encode("utf-8")  # always valid JSON
    return refused.value


# --- the reader, in-process --------------------------------------------------------------


@pytest.mark.parametrize("number", NON_FINITE)
def test_the_reader_refuses_non_finite_numbers_naming_the_field(number: str) -> None:
    error = refusal(f'{{"steps": [{{"count": {number}}}]}}'.encode())
    assert error.details["field"] == "steps.0.count"
    assert error.details["value"] == number
    assert "finite" in error.details["allowed"]


def test_the_reader_refuses_lone_surrogates_in_values_and_keys() -> None:
    value = refusal(b'{"id": "a\\ud800"}')
    assert value.details["field"] == "id"
    assert value.details["value"] == repr("a\ud800")
    key = refusal(b'{"metadata": {"\\udfff": "x"}}')
    assert key.details["field"] == "metadata.[key]"
    assert parse_body(b'{"id": "\\ud83d\\ude00"}') == {"id": "\U0001f600"}  # a pair is fine


def test_the_reader_refuses_a_key_given_twice_naming_it() -> None:
    error = refusal(b'{"params": {"duration": 5, "duration": 10}}')
    assert error.details["field"] == "params.duration"
    assert error.details["value"] == "duration"
    assert "duplicate key" in error.message


@pytest.mark.parametrize(
    "body",
    [b"\xff{}", b"", b"{", b"[" * 100_000, b'{"a": ' + b"9" * 5000 + b"}"],
    ids=["not-utf8", "empty", "truncated", "too-deep", "huge-int"],
)
def test_the_reader_refuses_unreadable_documents_on_body(body: bytes) -> None:
    error = refusal(body)
    assert error.details == {"field": "body", "value": None, "allowed": error.details["allowed"]}
    assert error.message.startswith("body: cannot be read; a UTF-8 JSON document")


def test_what_the_reader_accepts_json_loads_reads_the_same() -> None:
    """The same document, numbers with a fraction read exactly (never as floats)."""
    text = '{"a": [1, 2.5, -0.0, true, null, "\\u00e9\\ud83d\\ude00"], "b": {"c": 1e308}}'
    read = parse_body(text.encode())
    assert read == json.loads(text, parse_float=Decimal)
    assert read["b"]["c"] == Decimal("1e308") and not isinstance(read["a"][1], float)


@pytest.mark.parametrize(
    "body",
    [
        b'{"a" :1,"a":2}',  # white space before a colon
        b'{"a":1,\n "a"\t:\r 2}',
        b'{"a":"\\":","a":1}',  # an escaped quote and a colon inside a string
        b'{"x": [{"k": 1}, {"k": 2, "k": 3}]}',  # deep in a list
    ],
)
def test_a_key_given_twice_is_refused_however_it_is_spaced(body: bytes) -> None:
    error = refusal(body)
    assert "duplicate key" in error.message


def _floats(value: Any) -> list[float]:
    if isinstance(value, dict):
        return [f for v in value.values() for f in _floats(v)]
    if isinstance(value, list):
        return [f for v in value for f in _floats(v)]
    return [value] if isinstance(value, float) else []


_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.decimals(allow_nan=False, allow_infinity=False, places=3)
    | st.text(max_size=8)
)
_DOCUMENTS = st.recursive(
    _LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)


def _dump(value: Any, comma: str, colon: str) -> str:
    """JSON text of ``value`` with the given separators; a ``Decimal`` as its exact text."""
    if isinstance(value, dict):
        items = (f"{json.dumps(k)}{colon}{_dump(v, comma, colon)}" for k, v in value.items())
        return "{" + comma.join(items) + "}"
    if isinstance(value, list):
        return "[" + comma.join(_dump(v, comma, colon) for v in value) + "]"
    return str(value) if isinstance(value, Decimal) else json.dumps(value)


@settings(max_examples=300, deadline=None)
@given(document=_DOCUMENTS, separators=st.sampled_from([(",", ":"), (", ", ": "), (" ,", " :")]))
def test_the_reader_reads_any_document_as_json_loads_does_never_as_floats(
    document: Any, separators: tuple[str, str]
) -> None:
    text = _dump(document, *separators)
    read = parse_body(text.encode())
    assert read == json.loads(text, parse_float=Decimal)
    assert _floats(read) == []


def test_json_media_types_are_those_fastapi_reads_as_json() -> None:
    assert is_json_media_type(None) and is_json_media_type("application/json; charset=utf-8")
    assert is_json_media_type("application/merge-patch+json")
    assert not is_json_media_type("text/plain") and not is_json_media_type("application/xml")


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (math.nan, "nan"),
        (math.inf, "inf"),
        ("a\ud800", repr("a\ud800")),
        ("x" * 500, "x" * 200 + "..."),
        (10**400, "an integer of 1329 bits"),
        (b"\xff", "b'\\xff'"),
        (7, 7),
        (None, None),
    ],
)
def test_an_echoed_value_is_always_json(value: Any, shown: Any) -> None:
    assert shown_value(value) == shown
    assert InvalidRequest.for_field("f", value, "x").details["value"] == (
        shown if not isinstance(value, bytes) else "b'\\xff'"
    )


def test_any_error_renders_as_valid_json() -> None:
    hostile = InvalidRequest(
        "m\ud800", details={"value": math.nan, "k\udc00": [math.inf, "\ud800", 10**5000]}
    )
    response = response_for(hostile)
    assert response.status_code == 422
    decoded = json.loads(bytes(response.body))
    assert decoded["error"]["code"] == "invalid_request"
    assert json_safe({"a": (1, 2)}) == {"a": [1, 2]}


# --- the live service --------------------------------------------------------------------


@pytest.fixture
def api(live: LiveService, keys: dict[str, str]) -> Iterator[httpx.Client]:
    with live.client(keys["admin"]) as c:
        yield c


def new_id(prefix: str = "w") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def raw_post(c: httpx.Client, path: str, text: str) -> httpx.Response:
    """``text`` sent as is (json= would refuse to write NaN or a surrogate)."""
    return c.post(
        path,
        content=text.encode("utf-8"),
        headers={"Content-Type": "application/json", "Idempotency-Key": new_id("k")},
    )


def funded_wallet(c: httpx.Client, credits: int) -> str:
    wallet = new_id()
    assert raw_post(c, "/v1/wallets", json.dumps({"id": wallet})).status_code == 201
    grant = raw_post(c, f"/v1/wallets/{wallet}/grants", f'{{"amount": {credits}, "kind": "bonus"}}')
    assert grant.status_code == 201, grant.text
    return wallet


def assert_refused(answer: httpx.Response, field: str) -> dict[str, Any]:
    assert answer.status_code == 422, answer.text
    error = json.loads(answer.content)["error"]  # parses: valid JSON
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == "invalid_request"
    assert error["details"]["field"] == field, error
    assert error["message"].startswith(f"{field}: ")
    return dict(error)


def ledger_state(c: httpx.Client, wallet: str) -> tuple[Any, ...]:
    view = c.get(f"/v1/wallets/{wallet}").json()
    history = c.get(f"/v1/wallets/{wallet}/history").json()
    return view["available"], view["held"], len(view["grants"]), len(history["items"])


@pytest.mark.parametrize("number", NON_FINITE)
def test_non_finite_numbers_are_422_on_every_numeric_route(api: httpx.Client, number: str) -> None:
    wallet = funded_wallet(api, 100)
    before = ledger_state(api, wallet)
    cases = [
        (f"/v1/wallets/{wallet}/grants", f'{{"amount": {number}, "kind": "bonus"}}', "amount"),
        (
            f"/v1/wallets/{wallet}/jobs",
            f'{{"model": "kling/v2-1-pro", "generations": {number}}}',
            "generations",
        ),
        ("/v1/quotes", f'{{"model": "kling/v2-1-pro", "generations": {number}}}', "generations"),
        ("/v1/compare", f'{{"catalog": "api-pricing", "generations": {number}}}', "generations"),
        ("/v1/capacity", f'{{"balance": {number}, "model": "kling/v2-1-pro"}}', "balance"),
        ("/v1/wallets", f'{{"id": "{new_id()}", "overdraft_limit": {number}}}', "overdraft_limit"),
    ]
    for path, text, field in cases:
        error = assert_refused(raw_post(api, path, text), field)
        assert error["details"]["value"] == number
    assert ledger_state(api, wallet) == before
    assert api.get("/v1/admin/audit").json()["clean"] is True


def test_lone_surrogates_are_422_in_every_text_field(api: httpx.Client) -> None:
    wallet = funded_wallet(api, 100)
    job = raw_post(api, f"/v1/wallets/{wallet}/jobs", json.dumps(KLING_10S)).json()
    before = ledger_state(api, wallet)
    s = "\\ud800"
    cases = [
        ("/v1/wallets", f'{{"id": "{s}"}}', "id"),
        (f"/v1/wallets/{wallet}/grants", f'{{"amount": 1, "kind": "{s}"}}', "kind"),
        (
            f"/v1/wallets/{wallet}/grants",
            f'{{"amount": 1, "kind": "bonus", "source": "{s}"}}',
            "source",
        ),
        (f"/v1/wallets/{wallet}/jobs", f'{{"model": "{s}"}}', "model"),
        (
            f"/v1/wallets/{wallet}/jobs",
            f'{{"model": "m", "metadata": {{"a": "{s}"}}}}',
            "metadata.a",
        ),
        (f"/v1/wallets/{wallet}/jobs", f'{{"model": "m", "params": {{"{s}": 1}}}}', "params.[key]"),
        (f"/v1/wallets/{wallet}/free-jobs", f'{{"kind": "{s}"}}', "kind"),
        (f"/v1/jobs/{job['id']}/fail", f'{{"reason": "{s}"}}', "reason"),
        (
            f"/v1/jobs/{job['id']}/complete",
            f'{{"actual_params": {{"duration": "{s}"}}}}',
            "actual_params.duration",
        ),
        ("/v1/quotes", f'{{"model": "{s}"}}', "model"),
        ("/v1/compare", f'{{"catalog": "{s}"}}', "catalog"),
        ("/v1/project-quotes", f'{{"steps": [{{"model": "m", "label": "{s}"}}]}}', "steps.0.label"),
        ("/v1/keys", f'{{"name": "{s}", "scopes": ["read"]}}', "name"),
    ]
    for path, text, field in cases:
        error = assert_refused(raw_post(api, path, text), field)
        assert error["details"]["value"] == repr("\ud800")
    assert ledger_state(api, wallet) == before
    assert api.get(f"/v1/jobs/{job['id']}").json()["state"] == "pending"


def test_a_key_given_twice_is_422_naming_it(api: httpx.Client) -> None:
    wallet = funded_wallet(api, 100)
    before = ledger_state(api, wallet)
    twice = '{"amount": 5, "kind": "bonus", "amount": 500}'
    error = assert_refused(raw_post(api, f"/v1/wallets/{wallet}/grants", twice), "amount")
    assert "duplicate key" in error["message"] and error["details"]["value"] == "amount"
    quote = '{"model": "kling/v2-1-pro", "params": {"duration": 5, "duration": 10}}'
    assert_refused(raw_post(api, "/v1/quotes", quote), "params.duration")
    assert ledger_state(api, wallet) == before


def test_nul_is_refused_in_every_body_text_with_the_library_words(api: httpx.Client) -> None:
    wallet = funded_wallet(api, 100)
    before = ledger_state(api, wallet)
    nul = "a\\u0000b"
    metadata = f'{{"model": "kling/v2-1-pro", "metadata": {{"note": "{nul}"}}}}'
    error = assert_refused(raw_post(api, f"/v1/wallets/{wallet}/jobs", metadata), "metadata.note")
    assert error["details"]["allowed"] == "a string of at most 500 characters, without NUL"
    assert error["details"]["value"] == "a\x00b"
    cases = [
        ("/v1/wallets", f'{{"id": "{nul}"}}', "id"),
        (f"/v1/wallets/{wallet}/grants", f'{{"amount": 1, "kind": "{nul}"}}', "kind"),
        (
            f"/v1/wallets/{wallet}/jobs",
            f'{{"model": "m", "submitted_by": "{nul}"}}',
            "submitted_by",
        ),
        (
            "/v1/quotes",
            f'{{"model": "kling/v2-1-pro", "params": {{"resolution": "{nul}"}}}}',
            "params.resolution",
        ),
        ("/v1/keys", f'{{"name": "{nul}", "scopes": ["read"]}}', "name"),
    ]
    for path, text, field in cases:
        error = assert_refused(raw_post(api, path, text), field)
        assert error["details"]["allowed"].endswith("without NUL")
    assert ledger_state(api, wallet) == before


def test_a_callback_with_a_hostile_body_is_refused_and_moves_nothing(
    live: LiveService, api: httpx.Client
) -> None:
    wallet = funded_wallet(api, 100)
    job = raw_post(api, f"/v1/wallets/{wallet}/jobs", json.dumps(KLING_10S)).json()
    before = ledger_state(api, wallet)
    bodies = [
        f'{{"event_id": "e", "job_id": "{job["id"]}", "outcome": "succeeded", '
        '"actual_generations": NaN}',
        f'{{"event_id": "\\ud800", "job_id": "{job["id"]}", "outcome": "failed"}}',
        f'{{"event_id": "e", "job_id": "{job["id"]}", "outcome": "failed", '
        '"outcome": "succeeded"}',
    ]
    with httpx.Client(base_url=live.url) as provider:
        for text in bodies:
            raw = text.encode()
            ts = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                "X-Gencredits-Timestamp": ts,
                "X-Gencredits-Signature": sign_callback(CALLBACK_SECRET, ts, raw),
            }
            answer = provider.post("/v1/callbacks/provider", content=raw, headers=headers)
            assert answer.status_code == 422, answer.text
            assert answer.json()["error"]["code"] == "invalid_request"
    assert ledger_state(api, wallet) == before
    assert api.get(f"/v1/jobs/{job['id']}").json()["state"] == "pending"


# --- dates -------------------------------------------------------------------------------


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def wait_for(check: Any, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_grant_dates_in_iso_8601_take_effect_as_sent(api: httpx.Client) -> None:
    """``expires_at`` and ``effective_at`` (the only date fields a request takes) as ISO
    8601 text: the grant really starts and ends then, as the wallet shows."""
    wallet = funded_wallet(api, 10)
    now = datetime.now(UTC)
    soon = now + timedelta(seconds=2)
    grants = f"/v1/wallets/{wallet}/grants"
    ending = raw_post(
        api, grants, json.dumps({"amount": 7, "kind": "bonus", "expires_at": iso(soon)})
    )
    assert ending.status_code == 201, ending.text
    starting = raw_post(
        api,
        grants,
        json.dumps({"amount": 5, "kind": "bonus", "effective_at": soon.isoformat()}),  # +00:00
    )
    assert starting.status_code == 201, starting.text
    assert datetime.fromisoformat(ending.json()["expires_at"]) == soon
    assert datetime.fromisoformat(starting.json()["effective_at"]) == soon
    assert api.get(f"/v1/wallets/{wallet}").json()["available"] == 10 + 7  # 5 not yet
    wait_for(lambda: api.get(f"/v1/wallets/{wallet}").json()["available"] == 10 + 5)
    by_id = {g["id"]: g for g in api.get(f"/v1/wallets/{wallet}").json()["grants"]}
    assert by_id[starting.json()["id"]]["spendable"] is True
    assert ending.json()["id"] not in by_id or by_id[ending.json()["id"]]["spendable"] is False


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("expires_at", "2031-01-01T00:00:00"),  # no timezone
        ("expires_at", 1924992000),  # a unix time is not taken for a date
        ("effective_at", "31/01/2031"),
        ("effective_at", "2031-02-30T00:00:00Z"),
    ],
)
def test_a_bad_grant_date_is_422_naming_the_field(
    api: httpx.Client, field: str, value: object
) -> None:
    wallet = funded_wallet(api, 10)
    before = ledger_state(api, wallet)
    body = json.dumps({"amount": 7, "kind": "bonus", field: value})
    error = assert_refused(raw_post(api, f"/v1/wallets/{wallet}/grants", body), field)
    assert error["details"]["value"] == value
    assert ledger_state(api, wallet) == before


# --- malformed HTTP ----------------------------------------------------------------------


def raw_http(live: LiveService, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", live.port), timeout=10) as s:
        s.sendall(request)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_malformed_http_is_a_400_and_never_a_500(live: LiveService) -> None:
    """What the HTTP server (uvicorn) answers before the app: documented in docs/api.md."""
    for request in [
        b"POST /v1/wallets HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
        b"\x16\x03\x01 not http at all\r\n\r\n",
    ]:
        answer = raw_http(live, request)
        assert answer.startswith(b"HTTP/1.1 400 "), answer[:100]


@pytest.mark.parametrize(
    "path", ["/v1/webhooks/deliveries", "/v1/wallets", "/v1/models", "/v1/wallets/w/jobs"]
)
def test_a_query_parameter_given_twice_is_refused_naming_it(api: httpx.Client, path: str) -> None:
    name = {"/v1/models": "catalog", "/v1/wallets": "cursor"}.get(path, "limit")
    name = "endpoint_id" if path.startswith("/v1/webhooks") else name
    answer = api.get(path, params=[(name, "1"), (name, "2")])
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert (error["code"], error["details"]["field"]) == ("invalid_request", name)
    assert error["details"]["value"] == "1 and 2"
    assert "once" in error["message"]
