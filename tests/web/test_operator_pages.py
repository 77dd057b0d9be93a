"""The operator pages in a real browser: reports with the numbers of the JSON routes for the
same period and CSV downloads, catalog versions and the price difference after publishing
a version through the API, plans and packs with their price per credit; admin key only."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Page
from tests.web.conftest import Web, assert_accessible
from tests.web.test_wallet_pages import sign_in

OPERATOR = "user-operator"


def _seed_costed_usage(web: Web) -> None:
    """A pack sold (so a credit has a value) and a job on a model with a provider cost."""
    with web.api() as api:
        if api.get(f"/v1/wallets/{OPERATOR}").status_code == 200:
            return
        key = {"Idempotency-Key": uuid.uuid4().hex}
        assert api.post("/v1/wallets", json={"id": OPERATOR}).status_code == 201
        bought = api.post(
            f"/v1/wallets/{OPERATOR}/purchases",
            json={"pack": "medium", "purchase_id": "pay-operator-1"},
            headers=key,
        )
        assert bought.status_code == 201, bought.text
        job = api.post(
            f"/v1/wallets/{OPERATOR}/jobs",
            json={
                "model": "kling",
                "catalog": "shared-credits",
                "params": {"duration": 5, "resolution": "720p"},
            },
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert job.status_code == 201, job.text
        done = api.post(
            f"/v1/jobs/{job.json()['id']}/complete",
            json={},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert done.status_code == 200, done.text


def _cells(page: Page, selector: str) -> list[str]:
    return [t.strip() for t in page.locator(selector).all_inner_texts()]


def test_reports_show_the_numbers_of_the_api(web: Web, page: Page) -> None:
    _seed_costed_usage(web)
    sign_in(page, web, web.admin_key)
    page.goto(web.url + "/staff/reports")
    page.select_option("#days", "90")
    page.click("form[action='/staff/reports'] button")
    page.wait_for_url("**/staff/reports?days=90&chart=model")
    with web.api() as api:
        usage = api.get("/v1/reports/usage", params={"days": 90, "by": "model"}).json()
        margin = api.get("/v1/reports/margin", params={"days": 90, "by": "model"}).json()
        breakage = api.get("/v1/reports/breakage", params={"days": 90}).json()
        usage_csv = api.get(
            "/v1/reports/usage", params={"days": 90, "by": "model", "output": "csv"}
        )
    total = usage["total"]
    assert total["captured"] > 0 and total["refunded"] > 0  # the seeded success and failure
    assert page.text_content("#usage-captured") == f"{total['captured']:,}"
    assert page.text_content("#usage-refunded") == f"{total['refunded']:,}"
    assert page.text_content("#usage-jobs") == f"{total['jobs']:,}"
    for row in usage["rows"]:
        cells = _cells(page, f'#usage tr[data-model="{row["model"]}"] td')
        assert cells[6] == f"{row['captured']:,}" and cells[7] == f"{row['refunded']:,}"
        bars = page.locator(f'svg.bars rect[data-group="{row["model"]}"]')
        drawn = {
            b.get_attribute("data-series"): b.get_attribute("data-credits") for b in bars.all()
        }
        assert drawn == {"captured": str(row["captured"]), "refunded": str(row["refunded"])}
    assert page.locator("#usage tbody tr").count() == len(usage["rows"])

    costed = [r for r in margin["rows"] if r["model"] == "kling"]
    assert costed and costed[0]["cost"] is not None
    cells = _cells(page, '#margin tr[data-model="kling"] td')
    assert cells[3:6] == [costed[0]["revenue"], costed[0]["cost"], costed[0]["margin"]]
    assert margin["credit_value"] in page.text_content("#credit-value")
    uncosted = {u["model"] for u in margin["uncosted"]}
    assert uncosted >= {"veo-3.1", "kling-3"}  # creative-suite records no provider cost
    assert {r.get_attribute("data-model") for r in page.locator("#uncosted tbody tr").all()} == (
        uncosted
    )
    assert f"{breakage['credits_expired']:,} credits expired" in page.text_content(
        "#breakage-total"
    )
    assert_accessible(page)
    # the chart over time: per week for 90 days, its bars adding up to the same totals
    page.select_option("#chart", "time")
    page.click("form[action='/staff/reports'] button")
    page.wait_for_url("**/staff/reports?days=90&chart=time")
    for series in ("captured", "refunded"):
        bars = page.locator(f'svg.bars rect[data-series="{series}"]').all()
        assert sum(int(b.get_attribute("data-credits") or "") for b in bars) == total[series]
    weeks = {b.get_attribute("data-group") for b in page.locator("svg.bars rect").all()}
    assert weeks and all(re.fullmatch(r"\d{4}-W\d{2}", w or "") for w in weeks)

    # "Download CSV" answers the API's CSV for the same period
    href = page.get_attribute("#usage-csv", "href")
    assert href == "/staff/reports/usage.csv?days=90"
    answer = page.request.get(web.url + href)
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.text() == usage_csv.text
    for name in ("margin", "breakage"):
        other = page.request.get(f"{web.url}/staff/reports/{name}.csv?days=90")
        assert other.status == 200 and other.headers["content-type"].startswith("text/csv")


def test_catalog_diff_shows_a_published_price_change_and_plans_their_price(
    web: Web, page: Page
) -> None:
    catalog = "creative-suite"
    with web.api() as api:
        active = api.get(f"/v1/catalogs/{catalog}/versions").json()["active_version"]
        text = api.get(f"/v1/catalogs/{catalog}/versions/{active}").json()["yaml"]
        changed = text.replace(f'version: "{active}"', 'version: "2099.1.1-web"', 1)
        changed = changed.replace(
            "1080p: {4: 500, 6: 650, 8: 800}", "1080p: {4: 500, 6: 650, 8: 840}"
        )
        assert changed.count("8: 840") == 1
        published = api.post(
            f"/v1/catalogs/{catalog}/versions",
            # far ahead: the version never prices the other tests' requests
            json={"yaml": changed, "effective_at": "2099-01-01T00:00:00Z"},
        )
        assert published.status_code == 201, published.text
        plans = api.get("/v1/plans").json()
    sign_in(page, web, web.admin_key)
    page.click("nav[aria-label=Staff] >> text=Catalogs")
    page.click(f"#catalogs >> text={catalog}")
    assert page.text_content(f'#versions tr[data-version="{active}"] td:last-child') == "active"
    assert page.text_content('#versions tr[data-version="2099.1.1-web"] td:last-child') == ""
    rows = page.locator('#diff tr[data-model="veo-3.1"]').all_inner_texts()
    assert rows and all("800\t840\t+5.0%" in r and "resolution=1080p" in r for r in rows)
    assert "duration=8" in rows[0]
    assert page.locator("#diff tbody tr").count() == len(rows)  # nothing else changed
    assert_accessible(page)
    # the same version on both sides: no change
    page.select_option("#new", active)
    page.click("form[action='/staff/catalogs'] button")
    assert "No price changes" in page.text_content("#diff tbody")

    page.click("nav[aria-label=Staff] >> text=Plans")
    page.wait_for_url("**/staff/plans")
    for plan in plans["plans"]:
        cells = _cells(page, f'#plans tr[data-plan="{plan["id"]}"] td')
        assert cells[-1] == (plan["price_per_credit"] or "-")
    for pack in plans["packs"]:
        cells = _cells(page, f'#packs tr[data-pack="{pack["id"]}"] td')
        assert cells[-1] == pack["price_per_credit"]
    assert_accessible(page)


def test_a_billing_key_is_refused_the_operator_pages(web: Web, page: Page) -> None:
    sign_in(page, web, web.billing_key)
    assert page.locator("nav[aria-label=Staff]").count() == 0  # no links to pages it cannot open
    for path in ("/staff/reports", "/staff/catalogs", "/staff/plans"):
        answer = page.goto(web.url + path)
        assert answer is not None and answer.status == 403
        assert "need a key of the admin scope" in page.text_content("#refused")
    assert page.request.get(web.url + "/staff/reports/usage.csv").status == 403
    assert_accessible(page)
