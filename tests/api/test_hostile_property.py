"""A property: whatever body a client sends to any route of the live service (SQLite and
PostgreSQL), the answer is never a 5xx, an error is always the one shape, and a refused
request changes no balance and leaves the audit clean.

Bodies are generated from each operation's request schema in ``/openapi.json`` with
hostile leaves (NaN, Infinity, huge integers, lone surrogates, NUL, long text, wrong
types) and sometimes a key given twice, written as raw JSON text (``json.dumps`` would
refuse most of them).  ``GENCREDITS_HOSTILE_EXAMPLES`` runs more examples (default 40)."""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.api.conftest import LiveService

EXAMPLES = int(os.environ.get("GENCREDITS_HOSTILE_EXAMPLES", "40"))

#: Leaves as raw JSON text: what hostile clients send.
HOSTILE_LEAVES = st.sampled_from(
    [
        "NaN",
        "Infinity",
        "-Infinity",
        "1e400",
        "-1e400",
        "1" + "0" * 40,
        "-" + "9" * 400,
        '"\\ud800"',
        '"a\\udfffb"',
        '"\\u0000"',
        '"x\\u0000y"',
        '"' + "x" * 5000 + '"',
        "true",
        "null",
        "[]",
        "{}",
        "1.5",
        "-1",
        "0",
        '""',
    ]
)


def raw(value: Any) -> str:
    return json.dumps(value)


def leaf(schema: dict[str, Any], components: dict[str, Any]) -> st.SearchStrategy[str]:
    """A valid-looking value for ``schema`` or a hostile one, as JSON text."""
    schema = resolve(schema, components)
    if "anyOf" in schema:
        return st.one_of([leaf(s, components) for s in schema["anyOf"]] + [HOSTILE_LEAVES])
    kind = schema.get("type")
    if "enum" in schema or "const" in schema:
        plain = st.sampled_from(schema.get("enum", [schema.get("const")])).map(raw)
    elif kind == "integer":
        plain = st.integers(schema.get("minimum", -5), schema.get("maximum", 10**6)).map(raw)
    elif kind == "string":
        plain = st.text(max_size=12).map(raw)
    elif kind == "boolean":
        plain = st.booleans().map(raw)
    elif kind == "object":
        return body_for(schema, components)
    elif kind == "array":
        plain = st.lists(leaf(schema.get("items", {}), components), max_size=3).map(
            lambda items: "[" + ", ".join(items) + "]"
        )
    else:
        plain = st.just("1")
    return st.one_of(plain, HOSTILE_LEAVES)


def resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def body_for(schema: dict[str, Any], components: dict[str, Any]) -> st.SearchStrategy[str]:
    schema = resolve(schema, components)
    properties: dict[str, Any] = schema.get("properties", {})
    extra = schema.get("additionalProperties")
    names = list(properties) or ["duration", "note"]

    @st.composite
    def build(draw: st.DrawFn) -> str:
        chosen = draw(st.lists(st.sampled_from(names), unique=True, max_size=len(names)))
        pairs = []
        for name in chosen:
            sub = properties.get(name, extra if isinstance(extra, dict) else {})
            pairs.append((name, draw(leaf(sub, components))))
        if pairs and draw(st.integers(0, 4)) == 0:  # a key given twice
            pairs.append((pairs[0][0], draw(leaf({}, components))))
        if draw(st.integers(0, 9)) == 0:
            pairs.append((draw(st.sampled_from(["\\ud800", "x\\u0000", "surplus"])), "1"))
        return "{" + ", ".join(f"{key_text(k)}: {v}" for k, v in pairs) + "}"

    return build()


def key_text(key: str) -> str:
    """A key as JSON text; the hostile ones are already escapes (a lone surrogate, NUL)."""
    return f'"{key}"' if "\\" in key else raw(key)


def operations(live: LiveService) -> list[tuple[str, str, dict[str, Any]]]:
    document = httpx.get(live.url + "/openapi.json").json()
    found = []
    for path, methods in document["paths"].items():
        for method, spec in methods.items():
            body = spec.get("requestBody", {}).get("content", {}).get("application/json")
            if method == "post" and body is not None:
                found.append((path, method, body["schema"]))
    return found


def state(c: httpx.Client, wallet: str) -> tuple[Any, ...]:
    view = c.get(f"/v1/wallets/{wallet}").json()
    history = c.get(f"/v1/wallets/{wallet}/history").json()
    return view["available"], view["held"], len(view["grants"]), len(history["items"])


def test_no_hostile_body_gets_a_5xx_or_changes_anything(
    live: LiveService, keys: dict[str, str]
) -> None:
    document = httpx.get(live.url + "/openapi.json").json()
    components = document["components"]["schemas"]
    ops = operations(live)
    assert len(ops) >= 10
    with live.client(keys["admin"]) as c:
        wallet = f"w-{uuid.uuid4().hex[:12]}"
        c.post("/v1/wallets", json={"id": wallet})
        c.post(
            f"/v1/wallets/{wallet}/grants",
            json={"amount": 1000, "kind": "bonus"},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        job = c.post(
            f"/v1/wallets/{wallet}/jobs",
            json={"model": "kling/v2-1-pro", "params": {"duration": 10}},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        ).json()
        ids = {
            "wallet_id": wallet,
            "job_id": job["id"],
            "grant_id": "gr_none",
            "key_id": "k",
            "subscription_id": "sub_none",
            "purchase_id": "pay_none",
            "catalog": "hostile-catalog",  # publishing: nothing may be stored either
        }
        cases = st.one_of(
            [
                st.tuples(st.just(path.format(**ids)), body_for(schema, components))
                for path, _, schema in ops
            ]
        )

        @given(case=cases)
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def post_hostile(case: tuple[str, str]) -> None:
            path, text = case
            before = state(c, wallet)
            answer = c.post(
                path,
                content=text.encode("utf-8", "surrogatepass"),
                headers={"Content-Type": "application/json", "Idempotency-Key": "hostile"},
            )
            assert answer.status_code < 500, (path, text, answer.text)
            if answer.status_code >= 400:
                error = json.loads(answer.content)["error"]
                assert set(error) == {"code", "message", "details"}, answer.text
                assert state(c, wallet) == before, (path, text)

        post_hostile()
        assert c.get("/v1/admin/audit").json()["clean"] is True
