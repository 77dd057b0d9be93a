"""The wallet pages in a real browser: signing in once with a billing key, searching,
a wallet's credits, grants, jobs (status 0/1/2 and refunds), history with paging, the CSV
export and the spend chart; every page accessible."""

from __future__ import annotations

import csv
import io

from playwright.sync_api import Page
from tests.web.conftest import Web, assert_accessible


def sign_in(page: Page, web: Web, key: str) -> None:
    page.goto(web.url + "/staff")
    assert page.locator("#api-key").is_visible()  # not signed in: the sign-in form
    assert_accessible(page)
    page.fill("#api-key", key)
    page.click("form[action='/staff/signin'] button")
    page.wait_for_url(web.url + "/staff")


def test_a_wallet_page_shows_a_job_and_its_refund(web: Web, page: Page) -> None:
    sign_in(page, web, web.billing_key)
    page.fill("#q", "ada")
    page.click("form[role=search] button")
    assert_accessible(page)  # the search results
    page.click(f"text={web.wallet.id}")
    page.wait_for_url(f"**/staff/wallets/{web.wallet.id}")
    with web.api() as api:
        wallet = api.get(f"/v1/wallets/{web.wallet.id}").json()
        grants = api.get(f"/v1/wallets/{web.wallet.id}/grants").json()["items"]
    assert page.text_content("#available") == f"{wallet['available']:,}"
    assert page.text_content("#held") == f"{wallet['held']:,}"
    rows = page.locator("#grants tbody tr").all_inner_texts()
    assert len(rows) == len(grants)
    for grant in grants:
        assert any(grant["id"] in r and grant["kind"] in r for r in rows)

    failed = page.locator(f'#jobs tr[data-job="{web.wallet.failed_job}"] td').all_inner_texts()
    assert failed[2] == "2 failed"
    assert failed[3] == "0" and failed[4] == f"{web.wallet.failed_credits:,}"
    assert failed[6] == "provider error: content filter"
    done = page.locator(f'#jobs tr[data-job="{web.wallet.succeeded_job}"] td').all_inner_texts()
    assert done[2] == "1 succeeded" and done[3] == "800" and done[4] == "0"
    pending = page.locator(f'#jobs tr[data-job="{web.wallet.pending_job}"] td').all_inner_texts()
    assert pending[2] == "0 pending"
    # the refund is in the ledger history too: the release of the failed job's hold
    history = page.locator("#history tbody tr").all_inner_texts()
    assert any("release" in r and web.wallet.failed_job in r for r in history)
    assert page.evaluate("document.querySelectorAll('svg.bars rect').length") >= 2
    assert_accessible(page)


def test_history_pages_and_exports_as_csv(web: Web, page: Page) -> None:
    sign_in(page, web, web.billing_key)
    with web.api() as api:
        entries = api.get(f"/v1/wallets/{web.wallet.id}/history", params={"limit": 500}).json()
    total = len(entries["items"])
    page.goto(f"{web.url}/staff/wallets/{web.wallet.id}")
    seen = page.locator("#history tbody tr").count()
    assert seen == min(total, 25)
    with page.expect_download() as download:
        page.click("text=Export the whole history (CSV)")
    text = download.value.path().read_text()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [int(r["seq"]) for r in rows] == [e["seq"] for e in entries["items"]]
    assert sum(int(r["available_delta"]) for r in rows) == sum(
        e["available_delta"] for e in entries["items"]
    )


def test_older_history_is_a_page_away(web: Web, page: Page) -> None:
    wallet_id = "user-many-grants"
    with web.api() as api:
        made = api.post("/v1/wallets", json={"id": wallet_id})
        assert made.status_code == 201, made.text
        for i in range(30):
            answer = api.post(
                f"/v1/wallets/{wallet_id}/grants",
                json={"amount": 10 + i, "kind": "promotional"},
                headers={"Idempotency-Key": f"{wallet_id}-{i}"},
            )
            assert answer.status_code == 201, answer.text
        entries = api.get(f"/v1/wallets/{wallet_id}/history", params={"limit": 500}).json()
    seqs = [str(e["seq"]) for e in entries["items"]]
    assert len(seqs) == 30
    sign_in(page, web, web.billing_key)
    page.goto(f"{web.url}/staff/wallets/{wallet_id}")
    first = page.locator("#history tbody tr td:first-child").all_inner_texts()
    assert first == seqs[:25]  # newest first, 25 a page
    page.click("a[rel=next]")
    older = page.locator("#history tbody tr td:first-child").all_inner_texts()
    assert older == seqs[25:]
    assert page.locator("a[rel=next]").count() == 0


def test_signed_in_pages_are_private_and_sign_out_needs_the_form(web: Web, page: Page) -> None:
    sign_in(page, web, web.billing_key)
    cookie = next(c for c in page.context.cookies() if c["name"] == "gc_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    answer = page.goto(f"{web.url}/staff/wallets/{web.wallet.id}")
    assert answer is not None and answer.headers["cache-control"] == "no-store"
    assert page.evaluate("document.cookie") == ""  # no script can read the key
    # a sign-out without the form's token is refused; with it, the session ends
    refused = page.request.post(web.url + "/staff/signout", form={"csrf": "forged"})
    assert refused.status == 403
    page.goto(f"{web.url}/staff/wallets/{web.wallet.id}")
    assert page.locator("#available").is_visible()
    page.click("form[action='/staff/signout'] button")
    page.wait_for_url("**/staff/signin")
    page.goto(f"{web.url}/staff/wallets/{web.wallet.id}")
    assert page.locator("#api-key").is_visible()
