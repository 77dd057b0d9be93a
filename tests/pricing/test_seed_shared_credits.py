"""The shared-credits catalog against its price page
("Credits and pricing: how credits work across Seedance, Kling, image models, and video routes").

The page prints no figures, so every number in the catalog is an ASSUMPTION and these
tests check the *behaviours* the page describes, each quoted above its test, as
inequalities over every offered setting.  The settings enumerated here (routes,
resolutions, durations, modes) are the catalog's documented assumptions, typed again.
"""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from gencredits.errors import InvalidRequest, ValueNotOffered
from gencredits.pricing import CatalogSet, Quote, quote

CATALOG = "shared-credits"

SEEDANCE = "Seedance-style video"
KLING = "Kling"
IMAGE_STANDARD = "Standard image"
IMAGE_PRO = "Pro image"
MODELS = [SEEDANCE, KLING, IMAGE_STANDARD, IMAGE_PRO]

# ASSUMPTIONS typed from the catalog's comments (the seed names no settings).
SEEDANCE_ROUTES = ["draft", "premium"]
SEEDANCE_RESOLUTIONS = ["480p", "720p", "1080p"]
SEEDANCE_DURATIONS = [5, 10]
SEEDANCE_VIDEO_MODES = ["text-to-video", "image-to-video", "reference-image-to-video"]
UPSCALE_TO = ["1080p", "4K"]
KLING_ROUTES = ["direct", "third-party"]
KLING_RESOLUTIONS = ["720p", "1080p"]
REFERENCES = [1, 2, 3, 4]
CREDIT_VALUE_USD = Decimal("0.01")  # ASSUMPTION: what one credit is worth to the operator


def q(model: str, params: dict[str, object] | None = None, generations: int = 1) -> Quote:
    return quote(CATALOG, model, params or {}, generations)


def seedance_video_requests() -> list[dict[str, object]]:
    """Every offered Seedance-style video request (all modes but upscale)."""
    out: list[dict[str, object]] = []
    for mode, route, res, dur, audio in itertools.product(
        SEEDANCE_VIDEO_MODES, SEEDANCE_ROUTES, SEEDANCE_RESOLUTIONS, SEEDANCE_DURATIONS, [0, 1]
    ):
        base: dict[str, object] = {
            "mode": mode,
            "route": route,
            "resolution": res,
            "duration": dur,
            "audio": bool(audio),
        }
        if mode == "reference-image-to-video":
            out.extend({**base, "references": n} for n in REFERENCES)
        else:
            out.append(base)
    return out


def every_request() -> list[tuple[str, dict[str, object]]]:
    """Every offered request of every model, mode and route."""
    out: list[tuple[str, dict[str, object]]] = [(SEEDANCE, p) for p in seedance_video_requests()]
    out += [
        (SEEDANCE, {"mode": "upscale", "route": route, "resolution": res, "duration": dur})
        for route, res, dur in itertools.product(SEEDANCE_ROUTES, UPSCALE_TO, SEEDANCE_DURATIONS)
    ]
    out += [
        (KLING, {"route": route, "resolution": res, "duration": dur})
        for route, res, dur in itertools.product(
            KLING_ROUTES, KLING_RESOLUTIONS, SEEDANCE_DURATIONS
        )
    ]
    out += [(IMAGE_STANDARD, {"mode": "text-to-image"})]
    out += [(IMAGE_STANDARD, {"mode": "image-to-image", "input_images": n}) for n in (1, 4)]
    out += [(IMAGE_STANDARD, {"mode": "upscale", "resolution": r}) for r in ("2K", "4K")]
    out += [
        (IMAGE_PRO, {"resolution": r, "input_images": n})
        for r, n in itertools.product(["1K", "2K", "4K"], [0, 1, 4])
    ]
    return out


def test_the_catalog_has_the_models_the_page_talks_about() -> None:
    """'Seedance-style video, Kling routes, image models, upscales, references.'"""
    assert sorted(m.name for m in CatalogSet.bundled()[CATALOG]) == sorted(MODELS)


def request_id(request: tuple[str, dict[str, object]]) -> str:
    model, params = request
    return model + ":" + ",".join(f"{k}={v}" for k, v in params.items())


@pytest.mark.parametrize(("model", "params"), every_request(), ids=map(request_id, every_request()))
def test_every_request_quotes_with_its_provider_cost(model: str, params: dict[str, object]) -> None:
    """'Credits are estimated from provider cost': every model records it, every quote
    carries it, and (ASSUMPTION) every price covers it at $0.01 a credit."""
    result = q(model, params)
    assert result.route == params.get("route", result.route)
    assert sum(line.credits for line in result.breakdown) == result.total_credits
    assert result.provider_cost is not None and result.provider_cost > 0
    assert result.provider_currency == "USD"
    assert result.total_credits * CREDIT_VALUE_USD >= result.provider_cost


# --- routes ------------------------------------------------------------------------------


def test_seedance_defaults_to_the_fast_draft_route() -> None:
    assert q(SEEDANCE).route == "draft"
    assert q(SEEDANCE, {"route": "premium"}).route == "premium"


def test_premium_route_costs_more_than_the_fast_draft() -> None:
    """'Higher-cost model routes ... can cost more than fast draft generation.'"""
    for params in seedance_video_requests():
        if params["route"] != "premium":
            continue
        draft = q(SEEDANCE, {**params, "route": "draft"})
        premium = q(SEEDANCE, params)
        assert premium.total_credits > draft.total_credits, params
        assert premium.provider_cost is not None and draft.provider_cost is not None
        assert premium.provider_cost > draft.provider_cost


def test_kling_is_served_by_two_provider_routes_with_their_own_prices_and_costs() -> None:
    """'Expensive third-party provider routes can cost more.'"""
    assert q(KLING).route == "direct"
    for res, dur in itertools.product(KLING_RESOLUTIONS, SEEDANCE_DURATIONS):
        direct = q(KLING, {"route": "direct", "resolution": res, "duration": dur})
        third = q(KLING, {"route": "third-party", "resolution": res, "duration": dur})
        assert (direct.route, third.route) == ("direct", "third-party")
        assert third.total_credits > direct.total_credits
        assert direct.provider_cost is not None and third.provider_cost is not None
        assert third.provider_cost > direct.provider_cost


@pytest.mark.parametrize(
    ("model", "route"),
    [(SEEDANCE, "third-party"), (KLING, "premium"), (KLING, "draft"), (IMAGE_PRO, "premium")],
)
def test_a_route_the_model_is_not_served_by_is_refused(model: str, route: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        q(model, {"route": route})
    assert err.value.code == "value_not_offered"
    assert err.value.details["field"] == "route"


# --- settings that cost more ---------------------------------------------------------------


def test_1080p_video_costs_more() -> None:
    """'1080p video ... can cost more than fast draft generation.'"""
    for params in seedance_video_requests():
        if params["resolution"] != "1080p":
            continue
        lower = [q(SEEDANCE, {**params, "resolution": r}).total_credits for r in ("480p", "720p")]
        assert lower[0] < lower[1] < q(SEEDANCE, params).total_credits, params
    for route, dur in itertools.product(KLING_ROUTES, SEEDANCE_DURATIONS):
        low = q(KLING, {"route": route, "resolution": "720p", "duration": dur}).total_credits
        high = q(KLING, {"route": route, "resolution": "1080p", "duration": dur}).total_credits
        assert low < high


def test_audio_enabled_video_costs_more() -> None:
    """'Audio-enabled video ... can cost more.'"""
    for params in seedance_video_requests():
        if params["audio"]:
            silent = q(SEEDANCE, {**params, "audio": False}).total_credits
            assert q(SEEDANCE, params).total_credits > silent, params
    assert q(SEEDANCE).params["audio"] is False  # off unless asked for


def test_image_conditioned_video_costs_more_than_text_to_video() -> None:
    """'Image-conditioned video ... can cost more than fast draft generation.'"""
    for params in seedance_video_requests():
        if params["mode"] == "text-to-video":
            continue
        text = {k: v for k, v in params.items() if k != "references"}
        text["mode"] = "text-to-video"
        assert q(SEEDANCE, params).total_credits > q(SEEDANCE, text).total_credits, params


def test_an_input_image_switches_seedance_into_image_to_video() -> None:
    assert q(SEEDANCE, {"input_images": 1}).mode == "image-to-video"
    with pytest.raises(ValueNotOffered):
        q(SEEDANCE, {"mode": "text-to-video", "input_images": 1})


def test_longer_video_costs_more() -> None:
    """The estimate 'can change by ... duration'."""
    for params in seedance_video_requests():
        if params["duration"] == 10:
            assert (
                q(SEEDANCE, params).total_credits
                > q(SEEDANCE, {**params, "duration": 5}).total_credits
            )


def test_more_reference_images_cost_more() -> None:
    """The estimate 'can change by ... reference count'."""
    for route, res, dur in itertools.product(
        SEEDANCE_ROUTES, SEEDANCE_RESOLUTIONS, SEEDANCE_DURATIONS
    ):
        totals = [
            q(
                SEEDANCE,
                {
                    "mode": "reference-image-to-video",
                    "route": route,
                    "resolution": res,
                    "duration": dur,
                    "references": n,
                },
            ).total_credits
            for n in REFERENCES
        ]
        assert totals == sorted(set(totals)), (route, res, dur, totals)
        # Each extra reference image costs the same (credits_each).
        steps = {b - a for a, b in itertools.pairwise(totals)}
        assert len(steps) == 1


@pytest.mark.parametrize("references", [0, 5])
def test_reference_count_outside_the_offer_is_refused(references: int) -> None:
    with pytest.raises(ValueNotOffered) as err:
        q(SEEDANCE, {"mode": "reference-image-to-video", "references": references})
    assert err.value.details["field"] == "references"


def test_references_are_refused_in_modes_without_them() -> None:
    with pytest.raises(ValueNotOffered):
        q(SEEDANCE, {"mode": "text-to-video", "references": 1})


# --- upscaling ---------------------------------------------------------------------------


def test_upscaling_a_video_is_a_mode_with_its_own_price() -> None:
    """'A creator can use credits for ... upscales.'"""
    for route, dur in itertools.product(SEEDANCE_ROUTES, SEEDANCE_DURATIONS):
        up = [
            q(SEEDANCE, {"mode": "upscale", "route": route, "resolution": r, "duration": dur})
            for r in UPSCALE_TO
        ]
        assert all(u.mode == "upscale" for u in up)
        assert 0 < up[0].total_credits < up[1].total_credits  # 4K costs more than 1080p
        generate = q(SEEDANCE, {"route": route, "resolution": "1080p", "duration": dur})
        assert up[0].total_credits != generate.total_credits  # its own price
    with pytest.raises(ValueNotOffered):
        q(SEEDANCE, {"mode": "upscale", "resolution": "480p"})
    with pytest.raises(ValueNotOffered):
        q(SEEDANCE, {"mode": "upscale", "audio": True})


def test_upscaling_an_image_is_a_mode_with_its_own_price() -> None:
    to_2k = q(IMAGE_STANDARD, {"mode": "upscale", "resolution": "2K"})
    to_4k = q(IMAGE_STANDARD, {"mode": "upscale", "resolution": "4K"})
    assert to_2k.mode == "upscale"
    assert to_2k.params["input_images"] == 1  # the image being upscaled
    assert 0 < to_2k.total_credits < to_4k.total_credits
    assert to_2k.total_credits != q(IMAGE_STANDARD).total_credits
    with pytest.raises(ValueNotOffered):
        q(IMAGE_STANDARD, {"mode": "upscale", "input_images": 2})
    with pytest.raises(ValueNotOffered):
        q(IMAGE_STANDARD, {"resolution": "4K"})  # generation has no resolution setting


# --- image models --------------------------------------------------------------------------


def test_image_models_are_priced_by_model_and_quality() -> None:
    """The estimate 'can change by model, quality ...'."""
    tiers = [q(IMAGE_PRO, {"resolution": r}).total_credits for r in ("1K", "2K", "4K")]
    assert tiers[0] < tiers[1] < tiers[2]
    assert q(IMAGE_STANDARD).total_credits not in tiers  # another model, another price


@pytest.mark.parametrize("model", [IMAGE_STANDARD, IMAGE_PRO])
def test_input_images_switch_an_image_model_into_image_to_image(model: str) -> None:
    assert q(model).mode == "text-to-image"
    assert q(model, {"input_images": 2}).mode == "image-to-image"
    with pytest.raises(ValueNotOffered):
        q(model, {"input_images": 5})


# --- the shared balance ------------------------------------------------------------------


def test_generations_multiply_and_are_limited() -> None:
    one = q(SEEDANCE, {"resolution": "1080p", "audio": True})
    four = q(SEEDANCE, {"resolution": "1080p", "audio": True}, 4)
    assert four.total_credits == 4 * one.total_credits
    assert four.provider_cost == 4 * (one.provider_cost or 0)
    with pytest.raises(InvalidRequest):
        q(SEEDANCE, {}, 5)  # ASSUMPTION: at most 4 per request


@pytest.mark.parametrize(
    ("spelling", "model_id"),
    [
        ("Seedance-style video", "seedance-style"),
        ("seedance-style", "seedance-style"),
        ("KLING", "kling"),
        ("standard image", "image-standard"),
        ("image-pro", "image-pro"),
    ],
)
def test_models_are_found_by_name_or_alias(spelling: str, model_id: str) -> None:
    assert q(spelling).model == model_id
