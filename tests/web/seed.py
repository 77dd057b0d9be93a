"""A wallet with grants and jobs in every status, made over HTTP with an admin key (as a
platform would), for the wallet pages' tests and screenshots."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class SeededWallet:
    id: str
    succeeded_job: str
    failed_job: str
    pending_job: str
    failed_credits: int


def _post(api: httpx.Client, path: str, body: dict[str, object]) -> dict[str, object]:
    response = api.post(path, json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
    assert response.status_code in (200, 201), response.text
    data: dict[str, object] = response.json()
    return data


def seed_wallet(api: httpx.Client, wallet_id: str) -> SeededWallet:
    """Wallet ``wallet_id`` with an allowance and a purchase, a success, a failure (its
    credits returned) and a pending job."""
    _post(api, "/v1/wallets", {"id": wallet_id})
    _post(api, f"/v1/wallets/{wallet_id}/grants", {"amount": 5000, "kind": "allowance"})
    _post(api, f"/v1/wallets/{wallet_id}/grants", {"amount": 2000, "kind": "purchase"})
    job = {"model": "veo-3.1", "catalog": "creative-suite"}
    done = _post(
        api,
        f"/v1/wallets/{wallet_id}/jobs",
        {**job, "params": {"duration": 8, "resolution": "1080p"}},
    )
    _post(api, f"/v1/jobs/{done['id']}/complete", {})
    other = {"model": "kling-3", "catalog": "creative-suite", "params": {"duration": 4}}
    extra = _post(api, f"/v1/wallets/{wallet_id}/jobs", other)
    _post(api, f"/v1/jobs/{extra['id']}/complete", {})
    failed = _post(
        api,
        f"/v1/wallets/{wallet_id}/jobs",
        {**job, "params": {"duration": 6, "resolution": "720p"}},
    )
    _post(api, f"/v1/jobs/{failed['id']}/fail", {"reason": "provider error: content filter"})
    pending = _post(api, f"/v1/wallets/{wallet_id}/jobs", {**job, "params": {"duration": 4}})
    return SeededWallet(
        wallet_id,
        str(done["id"]),
        str(failed["id"]),
        str(pending["id"]),
        int(str(failed["credits_quoted"])),
    )
