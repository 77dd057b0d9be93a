"""Drives the estimator page as a person does, and says what it asked for."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from playwright.sync_api import Page

#: The estimator marks its total: ``data-asked`` when a price is asked, ``data-seq`` when the
#: answer to the latest ask is shown.
SETTLED = (
    "() => { const t = document.getElementById('total');"
    " return t.dataset.asked !== undefined && t.dataset.seq === t.dataset.asked; }"
)


@dataclass
class Shown:
    """What the page shows after a price: the total (None when refused) and any refusal."""

    total: int | None
    refusal: str | None
    request: dict[str, Any] = field(default_factory=dict)


def settled(page: Page) -> None:
    page.wait_for_function(SETTLED, timeout=15_000)


def seq(page: Page) -> int:
    return int(page.get_attribute("#total", "data-seq") or 0)


def open_estimator(page: Page, url: str) -> None:
    page.goto(url + "/")
    page.wait_for_function("Number(document.getElementById('total').dataset.seq) > 0")
    settled(page)


def choices(page: Page) -> list[str]:
    """Every picker value (``catalog|model|mode``) on the page."""
    return page.eval_on_selector_all('input[name="pick"]', "nodes => nodes.map(n => n.value)")


def choose(page: Page, value: str) -> None:
    catalog = value.split("|", 1)[0]
    page.select_option("#catalog", catalog)
    before = seq(page)
    page.check(f'input[name="pick"][value="{value}"]')
    page.wait_for_function(
        "(s) => Number(document.getElementById('total').dataset.seq) > s", arg=before
    )
    settled(page)


def controls(page: Page) -> list[dict[str, Any]]:
    """The settings form's controls: name, kind, options or bounds, value."""
    return page.eval_on_selector_all(
        "#settings [name]",
        """nodes => nodes.map(n => ({
            name: n.name, tag: n.tagName.toLowerCase(), type: n.type,
            options: n.tagName === 'SELECT' ? [...n.options].map(o => o.value) : null,
            min: n.min, max: n.max, value: n.type === 'checkbox' ? n.checked : n.value}))""",
    )


def set_control(page: Page, control: dict[str, Any], value: object) -> None:
    selector = f"#set-{control['name']}"
    if control["tag"] == "select":
        page.select_option(selector, str(value))
    elif control["type"] == "checkbox":
        page.set_checked(selector, bool(value))
    else:
        page.fill(selector, str(value))


def randomise(page: Page, rng: random.Random) -> dict[str, Any]:
    """Set every control to a random allowed value; the request that describes them."""
    params: dict[str, Any] = {}
    generations = 1
    for control in controls(page):
        value: object
        if control["tag"] == "select":
            value = rng.choice(control["options"])
        elif control["type"] == "checkbox":
            value = rng.random() < 0.5
        else:
            value = rng.randint(int(control["min"]), int(control["max"]))
        if value != control["value"] and str(value) != str(control["value"]):
            set_control(page, control, value)
        name = control["name"]
        if name == "generations":
            generations = int(str(value))
        elif name in ("duration", "input_images", "references"):
            params[name] = int(str(value))
        else:
            params[name] = value
    settled(page)
    return {"params": params, "generations": generations}


def shown(page: Page) -> Shown:
    text = (page.text_content("#total") or "").strip()
    refusal = None
    if page.is_visible("#refusal"):
        refusal = (page.text_content("#refusal") or "").strip()
    total = int(text.replace(",", "")) if text.replace(",", "").isdigit() else None
    return Shown(total, refusal)
