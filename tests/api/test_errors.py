"""The exception tree: drawn once, one status per code, raised as its classes; and the
one function that answers any exception over HTTP (``response_for``)."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException
from tests.api.conftest import LiveService

from gencredits import errors
from gencredits.api.errors import response_for
from gencredits.config import load_settings
from gencredits.pricing import CatalogSet

KLING_10S = {"model": "kling/v2-1-pro", "catalog": "api-pricing", "params": {"duration": 10}}


def tree() -> list[type[errors.GencreditsError]]:
    found: list[type[errors.GencreditsError]] = []
    pending: list[type[errors.GencreditsError]] = [errors.GencreditsError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return [c for c in found if c.__module__ == "gencredits.errors"]


def test_the_drawn_tree_is_the_class_tree_and_each_code_has_one_status() -> None:
    assert errors.__doc__ is not None
    drawn = {
        m.group(1): (int(m.group(2)), m.group(3))
        for m in re.finditer(r"(\w+)\s+(\d{3}) (\w+)$", errors.__doc__, re.MULTILINE)
    }
    classes = tree()
    assert drawn == {c.__name__: (c.http_status, c.code) for c in classes}
    codes = [c.code for c in classes]
    assert len(codes) == len(set(codes))
    assert set(errors.__all__) == {c.__name__ for c in classes}


def test_a_class_declares_its_code_in_its_header_and_only_a_family_its_status() -> None:
    class Gone(errors.NotFound, code="gone_for_good"):
        """A code of a test, refined from its family."""

    assert (Gone.code, Gone.http_status) == ("gone_for_good", 404)
    assert Gone("x").to_dict()["error"]["code"] == "gone_for_good"
    with pytest.raises(TypeError, match="only a family sets http_status"):

        class Moved(errors.NotFound, code="moved", http_status=410):
            """A status that would split the family."""


def test_the_codes_once_raised_outside_the_tree_are_its_classes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(errors.AmbiguousModel) as ambiguous:
        CatalogSet.bundled().resolve("veo3")
    assert ambiguous.value.code == "ambiguous_model"
    monkeypatch.setenv("GENCREDITS_PORT", "0")
    with pytest.raises(errors.InvalidSetting) as setting:
        load_settings()
    assert (setting.value.code, setting.value.details["field"]) == ("invalid_setting", "port")


def body(response: Any) -> dict[str, Any]:
    return dict(json.loads(response.body))


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (errors.InsufficientCredits(required=3, available=1), 402, "insufficient_credits"),
        (errors.AuthenticationFailed("no key"), 401, "unauthorized"),
        (errors.KeyNotFound("gone"), 404, "key_not_found"),
        (errors.Unavailable("down"), 503, "unavailable"),
        (
            RequestValidationError([{"loc": ("body", "x"), "msg": "bad", "input": 1}]),
            422,
            "invalid_request",
        ),
        (HTTPException(404), 404, "not_found"),
        (HTTPException(405), 405, "method_not_allowed"),
        (HTTPException(400, "There was an error parsing the body"), 422, "invalid_request"),
        (OperationalError("select", {}, Exception("gone")), 503, "unavailable"),
        (RuntimeError("secret detail"), 500, "internal"),
    ],
)
def test_response_for_answers_every_exception_in_the_one_shape(
    exc: BaseException, status: int, code: str
) -> None:
    response = response_for(exc, method="GET", path="/v1/x")
    assert response.status_code == status
    error = body(response)["error"]
    assert error["code"] == code and set(error) == {"code", "message", "details"}
    assert "secret detail" not in error["message"]
    assert (response.headers.get("www-authenticate") == "Bearer") == (status == 401)


# --- live: the hold-time ceiling, the quote path's bounds ------------------------------------


def test_a_hold_time_over_the_service_ceiling_is_refused_by_billing(
    live: LiveService, keys: dict[str, str]
) -> None:
    too_long = 86400 + 1  # over the default hold_ttl_s_max, within the ledger's week
    with live.client(keys["billing"]) as c:
        wallet = f"w-ttl-{too_long}-{id(c)}"
        made = c.post("/v1/wallets", json={"id": wallet, "hold_ttl_s": too_long})
        assert made.status_code == 422
        assert made.json()["error"]["code"] == "invalid_request"
        assert made.json()["error"]["details"]["field"] == "hold_ttl_s"
        assert c.post("/v1/wallets", json={"id": wallet}).status_code == 201
        job = c.post(
            f"/v1/wallets/{wallet}/jobs",
            json={**KLING_10S, "hold_ttl_s": too_long},
            headers={"Idempotency-Key": f"k-{wallet}"},
        )
        assert job.status_code == 422
        assert job.json()["error"]["details"]["field"] == "hold_ttl_s"


def test_the_quote_path_takes_bodies_up_to_the_one_limit_and_no_query(
    live: LiveService, keys: dict[str, str]
) -> None:
    with live.client(keys["read"]) as c:
        padded = json.dumps(KLING_10S) + " " * (100 * 1024)  # over the old 64 KiB
        assert c.post("/v1/quotes", content=padded).status_code == 200

        def chunks() -> Any:
            yield b'{"model": "'
            for _ in range(17):
                yield b"x" * 65536
            yield b'"}'

        huge = c.post("/v1/quotes", content=chunks())  # chunked: no Content-Length
        assert huge.status_code == 422
        assert huge.json()["error"]["details"]["field"] == "body"
        asked = c.post("/v1/quotes?verbose=1", json=KLING_10S)
        assert asked.status_code == 422
        assert asked.json()["error"]["code"] == "unknown_parameter"
        assert httpx.post(live.url + "/v1/quotes", json=KLING_10S).status_code == 401
