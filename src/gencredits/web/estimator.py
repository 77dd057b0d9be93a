"""The estimator page at ``/``, the cost widget's script and its example page.

The page lists every model of every loaded catalog, grouped by mode, each with its base
cost (the price at the defaults, as the price pages' tooltips show it).  Everything else
it shows comes from the API in the browser: a model's settings from ``GET /v1/models/{id}``,
the total from ``POST /v1/quotes`` (one request per change, on the quote fast path), the
cheaper models from ``POST /v1/compare``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from gencredits.api.state import Services
from gencredits.pricing import CatalogSet
from gencredits.web.templating import STATIC_DIR, page

__all__ = ["ModeGroup", "ModelChoice", "picker", "router", "wants_html"]

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True, slots=True)
class ModelChoice:
    catalog: str
    model: str
    name: str
    mode: str
    base_credits: int

    @property
    def value(self) -> str:
        """The picker's value: catalog, model and mode (model ids may hold ``/``)."""
        return f"{self.catalog}|{self.model}|{self.mode}"


@dataclass(slots=True)
class ModeGroup:
    mode: str
    choices: list[ModelChoice] = field(default_factory=list)


def picker(catalogs: CatalogSet) -> dict[str, list[ModeGroup]]:
    """Per catalog, its models grouped by mode (a model appears under each of its modes),
    each with its base cost on its default route, cheapest first."""
    out: dict[str, list[ModeGroup]] = {}
    for name in catalogs:
        catalog = catalogs[name]
        groups: dict[str, ModeGroup] = {}
        for model in catalog:
            for mode_name, mode in model.modes.items():
                group = groups.setdefault(mode_name, ModeGroup(mode_name))
                base = mode.base_credits[model.default_route]
                group.choices.append(ModelChoice(name, model.id, model.name, mode_name, base))
        for group in groups.values():
            group.choices.sort(key=lambda c: (c.base_credits, c.name.casefold()))
        out[name] = sorted(groups.values(), key=lambda g: g.mode)
    return out


def wants_html(request: Request) -> bool:
    """A browser asking for a page (``text/html`` named and preferred to JSON)."""
    accept = request.headers.get("accept", "")
    if "text/html" not in accept:
        return False
    return "application/json" not in accept or accept.index("text/html") < accept.index(
        "application/json"
    )


def root_handler(
    json_index: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """``/``: the estimator for a browser, the JSON index of the documentation otherwise."""

    async def root(request: Request) -> Response:
        if not wants_html(request):
            return await json_index(request)
        return estimator_page(request)

    return root


def estimator_page(request: Request) -> Response:
    services: Services = request.app.state.services
    catalogs = services.catalogs
    groups = picker(catalogs)
    titles = {n: catalogs[n].spec.title or n for n in catalogs}
    return page(
        request,
        "estimator.html",
        {
            "groups": groups,
            "titles": titles,
            "first_catalog": next(iter(groups), None),
            "publishable_key": services.settings.web_publishable_key or "",
        },
    )


@router.get("/widget.js")
async def widget_script() -> FileResponse:
    """The ``<gencredits-cost>`` custom element (cached for an hour by browsers)."""
    return FileResponse(
        STATIC_DIR / "widget.js",
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=3600"},
    )


@router.get("/widget/example")
async def widget_example(request: Request) -> Response:
    """A platform's Generate page, as an example of embedding the widget."""
    services: Services = request.app.state.services
    return page(
        request,
        "widget_example.html",
        {"publishable_key": services.settings.web_publishable_key or ""},
    )
