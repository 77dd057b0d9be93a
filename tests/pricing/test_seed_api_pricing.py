"""Every figure of the API price page ("Pricing: per-model credit costs ..."), typed again here.

The page prints credits per call; where it prints tiers without durations the catalog
maps them (4/8/12 s for Sora 2, 5/10/15 s for Wan 2.6, 5/10 s otherwise), so these
tests name the duration the catalog chose and the figure the seed prints.
"""

from __future__ import annotations

import pytest

from gencredits import BadCombination, ValueNotOffered, quote

CAT = "api-pricing"

# (model id as printed, settings, credits as printed)
FIGURES: list[tuple[str, dict[str, object], int]] = [
    ("gpt-image-2", {}, 3),
    ("google/nano-banana", {}, 3),
    ("nano-banana-2", {"resolution": "1K"}, 4),
    ("nano-banana-2", {"resolution": "2K"}, 6),
    ("nano-banana-2", {"resolution": "4K"}, 8),
    ("nano-banana-pro", {"resolution": "2K"}, 12),
    ("nano-banana-pro", {"resolution": "4K"}, 20),
    ("kling/v2-1-standard", {"duration": 5}, 11),
    ("kling/v2-1-standard", {"duration": 10}, 22),
    ("kling/v2-1-pro", {"duration": 5}, 21),
    ("kling/v2-1-pro", {"duration": 10}, 42),
    ("kling/v2-1-master-text-to-video", {"duration": 5}, 67),
    ("kling/v2-1-master-text-to-video", {"duration": 10}, 134),
    ("hailuo/02-text-to-video-standard", {"duration": 5}, 13),
    ("hailuo/02-text-to-video-standard", {"duration": 10}, 21),
    ("hailuo/02-text-to-video-pro", {"duration": 5}, 24),
    ("hailuo/02-text-to-video-pro", {"duration": 10}, 48),
    ("hailuo/02-image-to-video-standard", {"duration": 5}, 13),
    ("hailuo/02-image-to-video-standard", {"duration": 10}, 21),
    ("hailuo/02-image-to-video-pro", {"duration": 5}, 24),
    ("hailuo/02-image-to-video-pro", {"duration": 10}, 48),
    ("veo3_fast", {}, 9),
    ("veo3", {}, 63),
    ("veo3_lite", {}, 5),
    ("bytedance/seedance-1.5-pro", {"resolution": "720p", "duration": 5}, 18),
    ("bytedance/seedance-1.5-pro", {"resolution": "720p", "duration": 10}, 36),
    ("bytedance/seedance-1.5-pro", {"resolution": "1080p", "duration": 5}, 27),
    ("bytedance/seedance-1.5-pro", {"resolution": "1080p", "duration": 10}, 54),
]

# "5, 10, 20 at 720p; 8, 15, 30 at 1080p" and the like, duration tiers in order.
MATRICES: dict[str, tuple[tuple[int, ...], dict[str, tuple[int, ...]]]] = {
    "sora-2-text-to-video": ((4, 8, 12), {"720p": (5, 10, 20), "1080p": (8, 15, 30)}),
    "sora-2-image-to-video": ((4, 8, 12), {"720p": (5, 10, 20), "1080p": (8, 15, 30)}),
    "sora-2-pro-text-to-video": ((4, 8, 12), {"720p": (16, 32, 64), "1080p": (24, 48, 96)}),
    "wan/2-6-text-to-video": ((5, 10, 15), {"720p": (30, 60, 90), "1080p": (45, 89, 133)}),
    "wan/2-6-image-to-video": ((5, 10, 15), {"720p": (30, 60, 90), "1080p": (45, 89, 133)}),
}
for _model, (_durations, _rows) in MATRICES.items():
    for _res, _credits in _rows.items():
        for _d, _c in zip(_durations, _credits, strict=True):
            FIGURES.append((_model, {"resolution": _res, "duration": _d}, _c))


@pytest.mark.parametrize(("model", "settings", "credits"), FIGURES)
def test_every_printed_figure(model: str, settings: dict[str, object], credits: int) -> None:
    q = quote(CAT, model, settings)
    assert q.unit_credits == credits
    assert q.total_credits == credits
    assert q.catalog == CAT


MODES = {
    "gpt-image-2": {"text-to-image", "image-to-image"},
    "google/nano-banana": {"text-to-image", "image-to-image"},
    "nano-banana-2": {"text-to-image", "image-to-image"},
    "nano-banana-pro": {"text-to-image", "image-to-image"},
    "kling/v2-1-standard": {"image-to-video"},
    "kling/v2-1-pro": {"image-to-video"},
    "kling/v2-1-master-text-to-video": {"text-to-video"},
    "sora-2-text-to-video": {"text-to-video"},
    "sora-2-pro-text-to-video": {"text-to-video"},
    "sora-2-image-to-video": {"image-to-video"},
    "hailuo/02-text-to-video-standard": {"text-to-video"},
    "hailuo/02-text-to-video-pro": {"text-to-video"},
    "hailuo/02-image-to-video-standard": {"image-to-video"},
    "hailuo/02-image-to-video-pro": {"image-to-video"},
    "veo3_fast": {"text-to-video", "image-to-video"},
    "veo3": {"text-to-video", "image-to-video"},
    "veo3_lite": {"text-to-video", "image-to-video"},
    "wan/2-6-text-to-video": {"text-to-video"},
    "wan/2-6-image-to-video": {"image-to-video"},
    "bytedance/seedance-1.5-pro": {"text-to-video", "image-to-video"},
}


@pytest.mark.parametrize(("model", "modes"), sorted(MODES.items()))
def test_every_model_id_with_its_modes(model: str, modes: set[str]) -> None:
    for mode in modes:
        assert quote(CAT, model, {"mode": mode}).mode == mode
    for other in {"text-to-image", "image-to-image", "text-to-video", "image-to-video"} - modes:
        with pytest.raises(Exception, match="mode") as info:
            quote(CAT, model, {"mode": other})
        assert getattr(info.value, "code", None) == "value_not_offered"


def test_the_page_lists_exactly_these_models() -> None:
    from gencredits.pricing import CatalogSet

    assert set(CatalogSet.bundled()[CAT].models) == set(MODES)


def test_input_images_switch_gpt_image_2_into_edit_mode_up_to_four() -> None:
    assert quote(CAT, "gpt-image-2").mode == "text-to-image"
    edit = quote(CAT, "gpt-image-2", {"input_images": 4})
    assert edit.mode == "image-to-image"
    assert edit.total_credits == 3
    with pytest.raises(ValueNotOffered, match="0 to 4 input images"):
        quote(CAT, "gpt-image-2", {"input_images": 5})
    with pytest.raises(BadCombination, match="text-to-image"):
        quote(CAT, "gpt-image-2", {"input_images": 1, "mode": "text-to-image"})


def test_nano_banana_takes_up_to_ten_input_images() -> None:
    assert quote(CAT, "google/nano-banana", {"input_images": 10}).mode == "image-to-image"
    with pytest.raises(ValueNotOffered):
        quote(CAT, "google/nano-banana", {"input_images": 11})


def test_same_pricing_profile_follows_its_source() -> None:
    for res in ("720p", "1080p"):
        for d in (4, 8, 12):
            s = {"resolution": res, "duration": d}
            assert (
                quote(CAT, "sora-2-image-to-video", s).total_credits
                == quote(CAT, "sora-2-text-to-video", s).total_credits
            )


def test_flat_rate_per_eight_second_clip() -> None:
    q = quote(CAT, "veo3", {"duration": 8})
    assert q.total_credits == 63
    assert quote(CAT, "veo3", {"duration": 24}).total_credits == 3 * 63
    with pytest.raises(ValueNotOffered, match="8s, 16s, 24s"):
        quote(CAT, "veo3", {"duration": 5})


def test_nano_banana_pro_has_no_1k_tier() -> None:
    with pytest.raises(ValueNotOffered, match="2K, 4K"):
        quote(CAT, "nano-banana-pro", {"resolution": "1K"})
