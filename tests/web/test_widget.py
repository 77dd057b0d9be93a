"""The cost widget in a real browser: on the service's example page it shows the API's
total and follows the platform's settings; it announces each quote with the catalog's
version and hash; embedded on another site it works from an allowed origin only; and the
publishable key it carries cannot read a wallet."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page
from tests.web.conftest import PlatformSite, Web, assert_accessible

WIDGET_TOTAL = "gencredits-cost >> .total"


def widget_total(page: Page, expected: str) -> None:
    page.locator(WIDGET_TOTAL).filter(has_text=expected).wait_for(timeout=10_000)


def quote(web: Web, body: dict[str, Any]) -> dict[str, Any]:
    with web.api(web.publishable_key) as api:
        answer = api.post("/v1/quotes", json=body)
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()
    return data


def test_the_example_page_shows_the_api_total_and_follows_settings(web: Web, page: Page) -> None:
    page.goto(web.url + "/widget/example")
    page.evaluate(
        "window.__quotes = []; document.addEventListener('gencredits-quote',"
        " (e) => window.__quotes.push(e.detail))"
    )
    base = {"model": "veo-3.1", "catalog": "creative-suite"}
    first = quote(web, {**base, "params": {"duration": 8, "resolution": "1080p"}})
    widget_total(page, f"{first['total_credits']:,} credits")
    page.select_option("#resolution", "4K")
    page.fill("#generations", "2")
    second = quote(web, {**base, "params": {"duration": 8, "resolution": "4K"}, "generations": 2})
    widget_total(page, f"{second['total_credits']:,} credits")
    announced = page.evaluate("window.__quotes[window.__quotes.length - 1]")
    assert announced["quote"]["total_credits"] == second["total_credits"]
    assert announced["catalogVersion"] == second["catalog_version"]
    assert announced["catalogHash"] == second["catalog_hash"]
    page.locator(WIDGET_TOTAL).hover()
    tip = page.locator("gencredits-cost >> .tip")
    assert tip.is_visible()
    assert second["breakdown"][0]["label"] in (tip.text_content() or "")
    page.click("#generate")
    assert str(second["total_credits"]) in (page.text_content("#submitted") or "")
    assert_accessible(page)


def test_the_widget_shows_a_refusal_and_fires_an_error(web: Web, page: Page) -> None:
    page.goto(web.url + "/widget/example")
    widget_total(page, "credits")
    page.evaluate(
        "window.__errors = []; document.addEventListener('gencredits-error',"
        " (e) => window.__errors.push(e.detail))"
    )
    page.evaluate("document.getElementById('cost').setSettings({resolution: '8K'})")
    widget_total(page, "Not available")
    error = page.evaluate("window.__errors[0]")
    with web.api(web.publishable_key) as api:
        refused = api.post(
            "/v1/quotes",
            json={
                "model": "veo-3.1",
                "catalog": "creative-suite",
                "params": {"duration": 8, "resolution": "8K"},
            },
        ).json()["error"]
    assert error["code"] == refused["code"] and error["message"] == refused["message"]
    assert page.is_disabled("#generate")


def embedding_page(web: Web, key: str) -> str:
    return f"""<!doctype html><html lang="en"><head><title>A platform</title>
<script src="{web.url}/widget.js"></script></head><body><main>
<h1>Make a video</h1><button>Generate</button>
<gencredits-cost model="veo-3.1" catalog="creative-suite" key="{key}"
  duration="6" resolution="720p" generations="3"></gencredits-cost>
</main></body></html>"""


def test_a_platform_origin_on_the_allow_list_can_embed_the_widget(
    web: Web, page: Page, platform: PlatformSite
) -> None:
    platform.pages["/generate"] = embedding_page(web, web.publishable_key)
    page.goto(platform.allowed + "/generate")
    body = {"model": "veo-3.1", "catalog": "creative-suite"}
    expected = quote(
        web, {**body, "params": {"duration": 6, "resolution": "720p"}, "generations": 3}
    )
    widget_total(page, f"{expected['total_credits']:,} credits")
    assert_accessible(page)


def test_another_origin_cannot_call_the_api_from_a_browser(
    web: Web, page: Page, platform: PlatformSite
) -> None:
    platform.pages["/generate"] = embedding_page(web, web.publishable_key)
    page.goto(platform.other + "/generate")
    widget_total(page, "Not available")
    assert "cannot be reached" in (page.locator("gencredits-cost >> .tip").text_content() or "")


def test_a_publishable_key_cannot_read_a_wallet(web: Web, page: Page) -> None:
    page.goto(web.url + "/widget/example")
    key = page.get_attribute("gencredits-cost", "key")
    assert key == web.publishable_key  # printed in the page, as it may be
    answers = page.evaluate(
        """async ([key, wallet]) => {
            const ask = async (method, path, body) => {
                const r = await fetch(path, {method, headers: {Authorization: 'Bearer ' + key,
                    'Content-Type': 'application/json', 'Idempotency-Key': 'k-' + path},
                    body: body && JSON.stringify(body)});
                return [r.status, (await r.json()).error?.code ?? null];
            };
            return [
                await ask('GET', '/v1/wallets/' + wallet),
                await ask('GET', '/v1/wallets/' + wallet + '/history'),
                await ask('POST', '/v1/wallets/' + wallet + '/jobs', {model: 'veo-3.1'}),
                await ask('GET', '/v1/catalogs'),
            ];
        }""",
        [key, web.wallet.id],
    )
    assert answers == [[403, "forbidden"], [403, "forbidden"], [403, "forbidden"], [200, None]]
    page.goto(web.url + "/staff/signin")
    page.fill("#api-key", key or "")
    page.click("form[action='/staff/signin'] button")
    assert "needs the 'billing' scope" in (page.text_content("#signin-error") or "")
    assert page.context.cookies() == [
        c for c in page.context.cookies() if c["name"] != "gc_session"
    ]
