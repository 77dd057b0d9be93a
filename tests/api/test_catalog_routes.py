"""Catalog routes over HTTP give exactly what the library gives, and refuse bad input
with the one error shape naming the field, the value and what is allowed."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest
from tests.api.conftest import LiveService

from gencredits.pricing import CatalogSet, ProjectStep, compare, project_quote, quote

CATALOGS = CatalogSet.bundled()


@pytest.fixture
def reader(live: LiveService, keys: dict[str, str]) -> Iterator[httpx.Client]:
    with live.client(keys["read"]) as c:
        yield c


def error_of(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    return dict(body["error"])


def test_catalogs_are_listed_with_version_and_hash(reader: httpx.Client) -> None:
    items = reader.get("/v1/catalogs").json()["items"]
    assert {c["name"] for c in items} == set(CATALOGS)
    for c in items:
        loaded = CATALOGS[c["name"]]
        assert (c["version"], c["content_hash"], c["models"]) == (
            loaded.version,
            loaded.hash,
            len(loaded.models),
        )
        assert c["hash"] == c["content_hash"]  # the deprecated name, still answered


def test_models_carry_base_cost_and_what_they_accept(reader: httpx.Client) -> None:
    items = reader.get("/v1/models", params={"catalog": "api-pricing"}).json()["items"]
    catalog = CATALOGS["api-pricing"]
    assert [m["id"] for m in items] == list(catalog.models)
    for m in items:
        # the tooltip figure: a quote at the defaults in the default mode
        assert m["base_credits"] == quote(catalog, m["id"]).base_credits
        assert isinstance(m["accepts"], dict)
    every = reader.get("/v1/models").json()["items"]
    assert len(every) == sum(len(c.models) for c in CATALOGS.values())


def test_model_detail_resolves_ids_with_slashes(reader: httpx.Client) -> None:
    detail = reader.get("/v1/models/kling/v2-1-pro").json()
    assert detail["id"] == "kling/v2-1-pro"
    assert detail["catalog_version"] == CATALOGS[detail["catalog"]].version
    assert [d["mode"] for d in detail["mode_details"]] == detail["modes"]


@pytest.mark.parametrize(
    ("model", "params", "generations"),
    [
        ("kling/v2-1-pro", {"duration": 10}, 1),
        ("sora-2-pro-text-to-video", {"resolution": "1080p", "duration": "12s"}, 3),
        ("nano-banana-2", {"resolution": "4k"}, 4),
        ("gpt-image-2", {"input_images": 2}, 1),
    ],
)
def test_a_quote_over_http_is_the_library_quote(
    reader: httpx.Client, model: str, params: dict[str, object], generations: int
) -> None:
    body = {"model": model, "catalog": "api-pricing", "params": params, "generations": generations}
    answer = reader.post("/v1/quotes", json=body)
    assert answer.status_code == 200, answer.text
    expected = quote(CATALOGS["api-pricing"], model, params, generations)
    assert answer.json() == expected.to_dict()
    lines = answer.json()["breakdown"]
    assert sum(Decimal(line["line_credits"]) for line in lines) == expected.total_credits
    assert [line["credits"] for line in lines] == [line["line_credits"] for line in lines]


def test_compare_capacity_and_project_match_the_library(reader: httpx.Client) -> None:
    params = {"duration": 10}
    got = reader.post("/v1/compare", json={"catalog": "api-pricing", "params": params}).json()
    expected = compare(CATALOGS["api-pricing"], params)
    assert [q["model"] for q in got["quotes"]] == [q.model for q in expected.quotes]
    assert got["skipped"] == expected.skipped

    cap = reader.post(
        "/v1/capacity", json={"balance": 1250, "model": "veo3_fast", "catalog": "api-pricing"}
    ).json()
    unit = quote(CATALOGS["api-pricing"], "veo3_fast").total_credits
    assert cap["capacity"] == 1250 // unit and cap["remainder"] == 1250 % unit

    steps = [
        {"model": "nano-banana-pro", "settings": {"resolution": "4K"}, "count": 7},
        {"model": "kling/v2-1-pro", "settings": {"duration": 10}, "count": 3, "label": "clips"},
    ]
    got_project = reader.post(
        "/v1/project-quotes", json={"catalog": "api-pricing", "steps": steps}
    ).json()
    expected_project = project_quote(
        CATALOGS,
        [
            ProjectStep(s["model"], s["settings"], s["count"], catalog="api-pricing")  # type: ignore[arg-type]
            for s in steps
        ],
    )
    assert got_project["total_credits"] == expected_project.total_credits
    assert [s["step_total_credits"] for s in got_project["steps"]] == [
        t for _, _, t in expected_project.steps
    ]


def test_a_value_not_offered_names_field_value_and_allowed(reader: httpx.Client) -> None:
    error = error_of(
        reader.post("/v1/quotes", json={"model": "kling/v2-1-pro", "params": {"duration": 7}}),
        422,
    )
    assert error["code"] == "value_not_offered"
    details = error["details"]
    assert isinstance(details, dict)
    assert details["field"] == "duration" and details["value"] == 7
    assert "5s" in str(details["allowed"]) and "10s" in str(details["allowed"])


def test_an_unknown_model_suggests_close_names(reader: httpx.Client) -> None:
    error = error_of(reader.post("/v1/quotes", json={"model": "kling/v2-1-prro"}), 422)
    assert error["code"] == "unknown_model"
    details = error["details"]
    assert isinstance(details, dict)
    assert "kling/v2-1-pro" in details["suggestions"]  # type: ignore[operator]


def test_an_unknown_catalog_is_a_404(reader: httpx.Client) -> None:
    assert error_of(reader.get("/v1/catalogs/nope"), 404)["code"] == "unknown_catalog"
    assert error_of(reader.get("/v1/models", params={"catalog": "nope"}), 404)["code"] == (
        "unknown_catalog"
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"model": "veo3_fast", "generations": 0}, "generations"),
        ({"model": "veo3_fast", "generations": "many"}, "generations"),
        ({"model": "veo3_fast", "colour": "red"}, "colour"),
        ({"model": ""}, "model"),
        ({"params": {}}, "model"),
        ({"model": "veo3_fast", "params": {"duration": [1, 2]}}, "params.duration"),
        ({"model": "veo3_fast", "params": "duration=8"}, "params"),
    ],
)
def test_request_validation_errors_have_the_one_shape(
    reader: httpx.Client, body: dict[str, object], field: str
) -> None:
    error = error_of(reader.post("/v1/quotes", json=body), 422)
    assert error["code"] == "invalid_request"
    details = error["details"]
    assert isinstance(details, dict)
    assert str(details["field"]).startswith(field)
    assert "allowed" in details and "value" in details
    assert str(error["message"]).startswith(f"{details['field']}: ")


def test_malformed_json_unknown_paths_and_methods_keep_the_shape(reader: httpx.Client) -> None:
    bad_json = reader.post(
        "/v1/quotes", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert error_of(bad_json, 422)["details"]["field"] == "body"  # type: ignore[index]
    assert error_of(reader.get("/v1/nowhere"), 404)["code"] == "not_found"
    assert error_of(reader.delete("/v1/quotes"), 405)["code"] == "method_not_allowed"


def test_nothing_a_client_sends_makes_a_traceback(reader: httpx.Client) -> None:
    nasty = [
        {"model": "x" * 5000},
        {"model": "veo3_fast", "params": {f"k{i}": i for i in range(100)}},
        {"model": "veo3_fast", "generations": 10**30},
        {"model": "\u0000\ud7ff"},
        {"model": "veo3_fast", "params": {"duration": -1}},
        {"model": "veo3_fast", "params": {"duration": True}},
    ]
    for body in nasty:
        response = reader.post("/v1/quotes", json=body)
        assert response.status_code in (404, 422), (body, response.text)
        assert "Traceback" not in response.text


def test_metrics_count_requests_by_route(reader: httpx.Client) -> None:
    reader.post("/v1/quotes", json={"model": "veo3_fast", "catalog": "api-pricing"})
    text = reader.get("/metrics").text
    assert 'gencredits_http_requests_total{method="POST",route="/v1/quotes",status="200"}' in text
    assert "gencredits_http_request_duration_seconds_bucket" in text


def test_an_unknown_query_parameter_is_refused_not_ignored(reader: httpx.Client) -> None:
    for path in ("/v1/catalogs", "/v1/models", "/healthz"):
        error = error_of(reader.get(path, params={"limt": "5"}), 422)
        assert error["code"] == "unknown_parameter"
        assert error["details"]["field"] == "limt"  # type: ignore[index]
    quoted = reader.post(
        "/v1/quotes", params={"debug": "1"}, json={"model": "veo3", "catalog": "api-pricing"}
    )
    assert error_of(quoted, 422)["code"] == "unknown_parameter"


def test_bodies_are_bounded(reader: httpx.Client) -> None:
    big = b'{"model": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    for path in ("/v1/quotes", "/v1/compare"):
        sized = reader.post(path, content=big, headers={"Content-Type": "application/json"})
        assert error_of(sized, 422)["details"]["field"] == "body"  # type: ignore[index]

    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b" " * 65536

    chunked = reader.post(
        "/v1/compare", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert error_of(chunked, 422)["details"]["field"] == "body"  # type: ignore[index]
