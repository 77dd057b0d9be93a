"""Teams over HTTP (SQLite and PostgreSQL) through the Python client and raw JSON: a member
over their cap gets 402 member_cap_exceeded with cap, used and shortfall, although the team
has credits; a read key cannot change a team."""

from __future__ import annotations

import uuid

import httpx
import pytest
from tests.api.conftest import LiveService

from gencredits import errors
from gencredits.client import Client


def test_team_member_cap_over_http(live: LiveService, keys: dict[str, str]) -> None:
    team = f"t-{uuid.uuid4().hex[:10]}"
    with Client(live.url, keys["billing"]) as gc:
        made = gc.create_team(team, anchor_day=1)
        assert (made.outcome, made.anchor_day) == ("created", 1)
        assert gc.create_team(team, anchor_day=1).outcome == "exists"
        gc.grant(team, 10_000, kind="purchase")
        member = gc.set_member(team, "ann", cap=30, seat_credits=5)
        assert (member.cap, member.cap_left, member.seat_left) == (30, 30, 5)
        job = gc.submit(
            team, "kling/v2-1-pro", {"duration": 5}, catalog="api-pricing", submitted_by="ann"
        )
        with pytest.raises(errors.MemberCapExceeded) as refused:
            gc.submit(
                team, "kling/v2-1-pro", {"duration": 5}, catalog="api-pricing", submitted_by="ann"
            )
        assert refused.value.details["cap"] == 30
        assert refused.value.details["used"] == job.credits_held
        gc.fail(job.id)
        assert gc.get_team(team).members[0].used == 0
        gone = gc.remove_member(team, "ann")
        assert gone.active is False
        with pytest.raises(errors.NotAMember):
            gc.submit(
                team, "kling/v2-1-pro", {"duration": 5}, catalog="api-pricing", submitted_by="ann"
            )
    with live.client(keys["billing"]) as raw:
        raw.post(f"/v1/teams/{team}/members", json={"member_id": "bob", "cap": 0})
        answer = raw.post(
            f"/v1/wallets/{team}/jobs",
            json={
                "model": "kling/v2-1-pro",
                "catalog": "api-pricing",
                "params": {"duration": 5},
                "submitted_by": "bob",
            },
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert answer.status_code == 402, answer.text
        error = answer.json()["error"]
        assert error["code"] == "member_cap_exceeded"
        assert error["details"]["shortfall"] == error["details"]["required"]
    with live.client(keys["read"]) as reader:
        assert reader.get(f"/v1/teams/{team}").status_code == 200
        refused_scope = reader.post(f"/v1/teams/{team}/members", json={"member_id": "eve"})
        assert refused_scope.status_code == 403


def test_team_routes_are_documented(live: LiveService) -> None:
    spec = httpx.get(f"{live.url}/openapi.json").json()
    ops = {op["operationId"]: op for path in spec["paths"].values() for op in path.values()}
    for name in ("createTeam", "getTeam", "setMember", "removeMember"):
        assert name in ops, sorted(ops)
    assert ops["setMember"]["x-scope"] == "billing"
    assert ops["getTeam"]["x-scope"] == "read"
    assert "member_cap_exceeded" in str(spec["components"]["schemas"])
