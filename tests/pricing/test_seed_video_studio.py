"""The Video Studio credit page ("Video Credits"), checked from the user's side.

The seed's "Image to Video - base credit costs" table is pasted below as printed and
parsed here, so these tests are an independent transcription of the page, not a
read-back of ``video-studio.yaml``.  Every figure, range, resolution, aspect ratio and
option of every row is asserted, and so are the page's qualitative statements
("longer videos cost more credits", "higher resolutions increase cost", ...).

Where the page is silent the catalog follows the lead's decisions; the tests that pin
those are marked ASSUMPTION, so a change of policy shows up as a failing test with a
name that says which decision moved.
"""

from __future__ import annotations

import itertools
import re
import statistics
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

import pytest

from gencredits import InvalidRequest, UnknownModel, ValueNotOffered, quote
from gencredits.pricing import CatalogSet

CAT = "video-studio"

# The seed's table, rows as printed: column padding and outer pipes dropped to fit the
# line length, one row continued with a backslash.  Columns: Model, Base credits,
# Duration, Resolution, Aspect ratios, Options.
SEED_TABLE = """
Happy Horse | 252 | 3s–15s | 720p, 1080p | 16:9, 9:16, 1:1, 4:3, 3:4 | Start frame, Audio
Kling 3.0 4K | 755 | 3s–15s | 4K | 16:9, 9:16, 1:1 | Start/End frame, Audio
Seedance 2 Fast | 580 | 4s–15s | 720p | 16:9, 9:16, 1:1, 3:4, 4:3, 21:9 | Start/End frame, Audio
Seedance 2 | 725 | 4s–15s | 720p, 1080p | 16:9, 9:16, 1:1, 3:4, 4:3, 21:9 | Start/End frame, Audio
Kling 3.0 Pro | 300 | 3s–15s | 1080p | 16:9, 9:16, 1:1 | Start/End frame, Audio
Kling O3 | 220 | 5s–10s | 1080p | 16:9, 9:16, 1:1 | Start/End frame
Runway 4.5 | 360 | 5s–10s | 720p | 16:9, 9:16, 1:1, 4:3, 3:4 | Start frame
Seedance 1.5 Pro | 72 | 4s–12s | 480p, 720p | 16:9, 9:16, 3:4, 4:3, 1:1 | Start/End frame, Audio
Pika 2.2 | 120 | 5s–10s | 720p, 1080p | 16:9, 9:16, 1:1, 2:3, 3:2, 5:4, 4:5 | Start frame, Audio
Luma Ray 2 | 300 | 5s–9s | 540p, 720p | 16:9, 9:16, 3:4, 4:3 | Start frame
Hailuo 02 SD | 160 | 6s–10s | 768p | 16:9 | Start/End frame
Hailuo 02 Pro | 290 | 6s | 1080p | 16:9 | Start/End frame
Hailuo 2.3 SD | 170 | 6s–10s | 768p | 16:9 | Start frame
Hailuo 2.3 Pro | 300 | 6s | 1080p | 16:9 | Start frame
Kling 2.1 Pro | 270 | 5s–10s | 1080p | 16:9, 9:16, 1:1 | Start/End frame
Kling 2.5 Pro | 210 | 5s–10s | 1080p | 16:9, 9:16, 1:1 | Start/End frame
Kling 2.6 Pro | 420 | 5s–10s | 1080p | 16:9, 9:16, 1:1 | Start frame, Audio
Kling O1 | 340 | 5s–10s | 1080p | 16:9, 9:16, 2:3, 3:2, 3:4, 4:3, 1:1 | Start/End frame
Seedance Lite | 110 | 3s–12s | 480p, 720p | 16:9, 9:16, 4:3, 3:4, 1:1, 21:9 | Start/End frame
Seedance 1.0 Pro | 370 | 3s–12s | 480p, 720p, 1080p | 16:9, 9:16, 3:4, 4:3, 1:1 | Start/End frame
Seedance Pro Fast | 150 | 3s–12s | 480p, 720p, 1080p | 16:9, 4:3, 1:1, 3:4, 9:16, 21:9 | Start frame
Wan 2.2 | 30 | 5s | 720p | 9:16, 16:9, 1:1, 3:4, 4:3, 4:5, 5:4 | Start frame
Wan 2.5 | 300 | 5s–10s | 480p, 720p, 1080p | 16:9, 9:16 | Start frame, Audio
Wan 2.6 | 300 | 5s–15s | 720p, 1080p | 16:9, 9:16, 1:1, 4:3, 3:4 | Start frame, Audio
PixVerse v5 | 240 | 5s–8s | 540p, 720p | 16:9, 9:16, 3:4, 4:3, 1:1 | Start frame
PixVerse v5.5 | 120 | 5s–8s | 540p, 720p, 1080p | 16:9, 9:16, 3:4, 4:3, 1:1 | Start frame, Audio
PixVerse v6 | 135 | 5s–10s | 540p, 720p, 1080p | 16:9, 9:16, 1:1, 4:3, 3:4 | Start frame
Lucy | 240 | Shown in tooltip | 720p | 16:9, 9:16 | Start frame
Runway Gen 4 Turbo | 150 | 5s–10s | 720p | 16:9, 9:16, 1:1 | Start frame
Sora 2 | 240 | 4s–20s | 720p | 16:9, 9:16 | Start frame, Audio
Sora 2 Pro | 720 | 4s–20s | 720p, 1080p | 16:9, 9:16 | Start frame, Audio
Google Veo 3.1 Lite | 240 | 8s | 720p, 1080p | 16:9, 9:16 | Start/End frame
Google Veo 3.1 Fast | 350 | 4s–8s | 720p, 1080p, 4K | 16:9, 9:16 | Start/End frame
Google Veo 3.1 | 900 | 4s–8s | 720p, 1080p, 4K | 16:9, 9:16 | Start/End frame, Audio
xAI Grok Video | 180 | 6s–15s | 480p, 720p | 16:9, 9:16, 1:1, 2:3, 3:2, 4:3, 3:4 \
| Start frame, Audio
"""

# ASSUMPTION (lead): Lucy's duration is "Shown in tooltip"; the catalog fixes it at 5 s.
LUCY_DURATION_S = 5
# ASSUMPTION (lead): Generate Preview +20, Prompt enhancer +2 credits per generation.
PREVIEW_CREDITS = 20
PROMPT_ENHANCER_CREDITS = 2
# ASSUMPTION (lead): each higher resolution of a model costs 1.5x the one below it.
RESOLUTION_STEP = Decimal("1.5")
# ASSUMPTION (lead): up to 4 generations per request.
GENERATIONS_MAX = 4

ALL_RESOLUTIONS = ("480p", "540p", "720p", "768p", "1080p", "4K")


class Row(NamedTuple):
    name: str
    base: int
    duration_min_s: int
    duration_max_s: int
    resolutions: tuple[str, ...]
    aspect_ratios: tuple[str, ...]
    start_frame: bool
    end_frame: bool
    audio: bool


def _parse_duration(text: str) -> tuple[int, int]:
    if text == "Shown in tooltip":
        return LUCY_DURATION_S, LUCY_DURATION_S
    match = re.fullmatch(r"(\d+)s(?:–(\d+)s)?", text)
    assert match, text
    low = int(match.group(1))
    return low, int(match.group(2) or low)


def _parse(table: str) -> list[Row]:
    rows = []
    for line in table.strip().splitlines():
        name, base, duration, res, aspects, options = (
            c.strip() for c in line.strip("|").split("|")
        )
        low, high = _parse_duration(duration)
        opts = {o.strip() for o in options.split(",")}
        assert opts <= {"Start frame", "Start/End frame", "Audio"}, opts
        rows.append(
            Row(
                name=name,
                base=int(base),
                duration_min_s=low,
                duration_max_s=high,
                resolutions=tuple(r.strip() for r in res.split(",")),
                aspect_ratios=tuple(a.strip() for a in aspects.split(",")),
                start_frame=bool(opts & {"Start frame", "Start/End frame"}),
                end_frame="Start/End frame" in opts,
                audio="Audio" in opts,
            )
        )
    return rows


ROWS = _parse(SEED_TABLE)
BY_NAME = {r.name: r for r in ROWS}
ALL_ASPECTS = sorted({a for r in ROWS for a in r.aspect_ratios})
RANGED = [r for r in ROWS if r.duration_max_s > r.duration_min_s]
MULTI_RES = [r for r in ROWS if len(r.resolutions) > 1]


def _ids(rows: list[Row]) -> list[str]:
    return [r.name for r in rows]


def half_up(amount: Decimal) -> int:
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def total(model: str, generations: int = 1, **settings: object) -> int:
    return quote(CAT, model, settings, generations).total_credits


# --- the table, row by row --------------------------------------------------------------


def test_the_table_has_35_models_and_the_catalog_has_exactly_them() -> None:
    assert len(ROWS) == 35
    catalog = CatalogSet.bundled()[CAT]
    i2v = {m.name for m in catalog if "image-to-video" in m.modes}
    assert i2v == set(BY_NAME)
    assert len(catalog.models) == 35


@pytest.mark.parametrize("row", ROWS, ids=_ids(ROWS))
def test_base_credits_as_printed(row: Row) -> None:
    """Base cost: 1 video, minimum duration, default settings."""
    q = quote(CAT, row.name, {})
    assert q.mode == "image-to-video"
    assert q.model_name == row.name
    assert q.base_credits == row.base
    assert q.unit_credits == row.base
    assert q.total_credits == row.base
    assert q.params["duration"] == row.duration_min_s
    assert q.params["resolution"] == row.resolutions[0]  # the lowest printed resolution
    assert q.catalog == CAT
    explicit = quote(CAT, row.name, {"mode": "image-to-video", "duration": row.duration_min_s})
    assert explicit.total_credits == row.base
    assert sum(line.credits for line in q.breakdown) == q.total_credits


@pytest.mark.parametrize("row", ROWS, ids=_ids(ROWS))
def test_base_credits_stay_the_tooltip_figure_whatever_the_settings(row: Row) -> None:
    q = quote(
        CAT,
        row.name,
        {"duration": row.duration_max_s, "resolution": row.resolutions[-1], "preview": True},
    )
    assert q.base_credits == row.base


@pytest.mark.parametrize("row", ROWS, ids=_ids(ROWS))
def test_every_duration_in_the_printed_range(row: Row) -> None:
    # ASSUMPTION: a printed range "5s–10s" offers every whole second in it.
    for seconds in range(row.duration_min_s, row.duration_max_s + 1):
        assert quote(CAT, row.name, {"duration": seconds}).params["duration"] == seconds
    for outside in (row.duration_min_s - 1, row.duration_max_s + 1):
        if outside >= 1:
            with pytest.raises(ValueNotOffered) as err:
                quote(CAT, row.name, {"duration": outside})
            assert err.value.details["field"] == "duration"


@pytest.mark.parametrize("row", ROWS, ids=_ids(ROWS))
def test_resolutions_offered_and_refused(row: Row) -> None:
    for res in row.resolutions:
        assert quote(CAT, row.name, {"resolution": res}).params["resolution"] == res
    for res in ALL_RESOLUTIONS:
        if res not in row.resolutions:
            with pytest.raises(ValueNotOffered) as err:
                quote(CAT, row.name, {"resolution": res})
            assert err.value.details["field"] == "resolution"
            for offered in row.resolutions:
                assert offered in err.value.message  # the message lists what is offered


@pytest.mark.parametrize("row", ROWS, ids=_ids(ROWS))
def test_aspect_ratios_offered_and_refused(row: Row) -> None:
    assert quote(CAT, row.name, {}).params["aspect_ratio"] == row.aspect_ratios[0]
    for ratio in row.aspect_ratios:
        assert quote(CAT, row.name, {"aspect_ratio": ratio}).total_credits == row.base
    for ratio in ALL_ASPECTS:
        if ratio not in row.aspect_ratios:
            with pytest.raises(ValueNotOffered):
                quote(CAT, row.name, {"aspect_ratio": ratio})


@pytest.mark.parametrize("row", ROWS, ids=_ids(ROWS))
def test_end_frame_only_on_start_end_frame_models(row: Row) -> None:
    if row.end_frame:
        # ASSUMPTION: the page prints no end-frame surcharge.
        assert total(row.name, end_frame=True) == row.base
    else:
        with pytest.raises(ValueNotOffered):
            quote(CAT, row.name, {"end_frame": True})
    assert total(row.name, end_frame=False) == row.base


@pytest.mark.parametrize("row", ROWS, ids=_ids(ROWS))
def test_audio_only_where_the_options_say_audio(row: Row) -> None:
    if row.audio:
        # ASSUMPTION: the page lists no audio factor, so audio is free.
        assert total(row.name, audio=True) == row.base
        assert total(row.name, audio=True, duration=row.duration_max_s) == total(
            row.name, duration=row.duration_max_s
        )
    else:
        with pytest.raises(ValueNotOffered):
            quote(CAT, row.name, {"audio": True})


def test_every_model_takes_a_start_frame_in_the_catalog() -> None:
    catalog = CatalogSet.bundled()[CAT]
    for row in ROWS:
        spec = catalog.find(row.name).spec.accepts
        assert spec.start_frame is row.start_frame is True
        assert spec.end_frame is row.end_frame
        assert spec.audio is row.audio


@pytest.mark.parametrize("row", ROWS, ids=_ids(ROWS))
def test_start_frame_can_be_asked_for(row: Row) -> None:
    # Every row offers a start frame; the page prints no surcharge for it.
    assert total(row.name, start_frame=True) == row.base
    assert total(row.name, start_frame=True, mode="extend") == total(row.name, mode="extend")


# --- the factors table, as inequalities and the lead's exact rules ----------------------


@pytest.mark.parametrize("row", RANGED, ids=_ids(RANGED))
def test_longer_clips_consume_more_credits(row: Row) -> None:
    totals = [
        total(row.name, duration=d) for d in range(row.duration_min_s, row.duration_max_s + 1)
    ]
    assert all(a < b for a, b in itertools.pairwise(totals))
    assert totals[-1] > totals[0] == row.base


@pytest.mark.parametrize("row", RANGED, ids=_ids(RANGED))
def test_cost_scales_with_duration_in_proportion(row: Row) -> None:
    # ASSUMPTION (lead): proportional to duration from the base at the minimum duration.
    for d in range(row.duration_min_s, row.duration_max_s + 1):
        expected = half_up(Decimal(row.base) * d / row.duration_min_s)
        assert total(row.name, duration=d) == expected


def test_kling_3_0_pro_is_100_credits_a_second() -> None:
    assert total("Kling 3.0 Pro", duration=3) == 300
    assert total("Kling 3.0 Pro", duration=5) == 500
    assert total("Kling 3.0 Pro", duration=15) == 1500


@pytest.mark.parametrize("row", MULTI_RES, ids=_ids(MULTI_RES))
def test_higher_resolutions_cost_more(row: Row) -> None:
    for d in {row.duration_min_s, row.duration_max_s}:
        totals = [total(row.name, duration=d, resolution=r) for r in row.resolutions]
        assert all(a < b for a, b in itertools.pairwise(totals)), totals


@pytest.mark.parametrize("row", MULTI_RES, ids=_ids(MULTI_RES))
def test_each_resolution_step_is_one_and_a_half_times(row: Row) -> None:
    # ASSUMPTION (lead): factors 1, 1.5, 2.25 over the model's own resolutions.
    for step, res in enumerate(row.resolutions):
        expected = half_up(row.base * RESOLUTION_STEP**step)
        assert total(row.name, resolution=res) == expected


def test_the_printed_resolution_ladder_720p_1080p_4k() -> None:
    for model in ("Google Veo 3.1 Fast", "Google Veo 3.1"):
        assert total(model, resolution="720p") < total(model, resolution="1080p")
        assert total(model, resolution="1080p") < total(model, resolution="4K")
    for model in ("Seedance 1.0 Pro", "Seedance Pro Fast", "Wan 2.5"):
        assert total(model, resolution="480p") < total(model, resolution="720p")
        assert total(model, resolution="720p") < total(model, resolution="1080p")
    assert total("Google Veo 3.1", duration=8, resolution="4K") == 4050  # 900 x 8/4 x 2.25


@pytest.mark.parametrize("row", ROWS, ids=_ids(ROWS))
def test_generate_preview_adds_credits(row: Row) -> None:
    with_preview = total(row.name, preview=True)
    assert with_preview > row.base
    assert with_preview == row.base + PREVIEW_CREDITS


@pytest.mark.parametrize("row", ROWS, ids=_ids(ROWS))
def test_prompt_enhancer_adds_a_small_cost(row: Row) -> None:
    enhanced = total(row.name, prompt_enhancer=True)
    assert enhanced > row.base
    assert enhanced == row.base + PROMPT_ENHANCER_CREDITS
    assert PROMPT_ENHANCER_CREDITS < PREVIEW_CREDITS  # "a small credit cost"


def test_settings_add_up_per_generation() -> None:
    # Seedance 1.0 Pro, 1080p, 6 s, preview and enhancer, 3 variations:
    # 370 x 6/3 x 2.25 = 1,665; + 20 + 2 = 1,687 per video; x 3 = 5,061.
    q = quote(
        CAT,
        "Seedance 1.0 Pro",
        {"duration": 6, "resolution": "1080p", "preview": True, "prompt_enhancer": True},
        3,
    )
    assert q.unit_credits == 1687
    assert q.total_credits == 5061
    assert sum(line.credits for line in q.breakdown) == 5061


@pytest.mark.parametrize("row", ROWS, ids=_ids(ROWS))
def test_generations_multiply_up_to_four(row: Row) -> None:
    for n in range(1, GENERATIONS_MAX + 1):
        assert total(row.name, n, preview=True) == n * (row.base + PREVIEW_CREDITS)
    with pytest.raises(InvalidRequest) as err:
        quote(CAT, row.name, {}, GENERATIONS_MAX + 1)
    assert err.value.code == "value_not_offered"
    assert err.value.details["field"] == "generations"


def test_premium_models_cost_significantly_more() -> None:
    """ "Premium models (Sora 2 Pro, Google Veo 3.1, Kling 3.0 Pro) cost significantly
    more than standard models": per second of video, at least twice the catalog's median,
    and above their own family's standard models at the same settings."""
    per_second = {
        r.name: Decimal(total(r.name, duration=r.duration_min_s)) / r.duration_min_s for r in ROWS
    }
    median = statistics.median(per_second.values())
    for premium in ("Sora 2 Pro", "Google Veo 3.1", "Kling 3.0 Pro"):
        assert per_second[premium] >= 2 * median, (premium, per_second[premium], median)
    for d in range(4, 21):
        assert total("Sora 2 Pro", duration=d) > total("Sora 2", duration=d)
    for res in ("720p", "1080p"):
        veo = total("Google Veo 3.1", duration=8, resolution=res)
        assert veo > total("Google Veo 3.1 Fast", duration=8, resolution=res)
        assert veo > total("Google Veo 3.1 Lite", duration=8, resolution=res)
    for older in ("Kling 2.1 Pro", "Kling 2.5 Pro", "Kling 2.6 Pro", "Kling O3"):
        for d in range(5, 11):
            assert total("Kling 3.0 Pro", duration=d) > total(older, duration=d)


# --- Extend: "same as original", "based on extension", "based on settings" -------------


def test_extend_worked_example_kling_3_0_pro() -> None:
    """Kling 3.0 Pro: 300 at 3 s is 100 per second, so a 5 s extension is 500."""
    q = quote(CAT, "Kling 3.0 Pro", {"mode": "extend", "duration": 5})
    assert q.mode == "extend"
    assert q.total_credits == 500
    assert total("Kling 3.0 Pro", mode="extend", duration=1) == 100
    assert total("Kling 3.0 Pro", 2, mode="extend", duration=15) == 3000


@pytest.mark.parametrize("row", ROWS, ids=_ids(ROWS))
def test_extend_uses_the_original_models_rate(row: Row) -> None:
    # "Same as original": extending by the model's minimum duration costs its base.
    assert total(row.name, mode="extend", duration=row.duration_min_s) == row.base
    # ASSUMPTION: 1 s up to the model's maximum duration, at the original per-second rate.
    for seconds in range(1, row.duration_max_s + 1):
        expected = half_up(Decimal(row.base) * seconds / row.duration_min_s)
        assert total(row.name, mode="extend", duration=seconds) == expected
    for outside in (0, row.duration_max_s + 1):
        with pytest.raises(InvalidRequest) as err:
            quote(CAT, row.name, {"mode": "extend", "duration": outside})
        assert err.value.details["field"] == "duration"


@pytest.mark.parametrize("row", MULTI_RES, ids=_ids(MULTI_RES))
def test_extend_is_based_on_settings(row: Row) -> None:
    """The extension keeps the resolution factor and the preview / enhancer add-ons."""
    d = row.duration_min_s
    for res in row.resolutions:
        assert total(row.name, mode="extend", duration=d, resolution=res) == total(
            row.name, duration=d, resolution=res
        )
    top = row.resolutions[-1]
    plain = total(row.name, mode="extend", duration=d, resolution=top)
    assert total(row.name, mode="extend", duration=d, resolution=top, preview=True) == plain + 20
    assert total(row.name, mode="extend", resolution=top) > total(row.name, mode="extend")


def test_extend_example_at_1080p() -> None:
    # Seedance 2: 725 at 4 s; at 1080p 725 x 1.5 = 1,087.5 per 4 s; a 6 s extension is
    # 1,087.5 x 6/4 = 1,631.25, rounded half up to 1,631.
    assert total("Seedance 2", mode="extend", duration=6, resolution="1080p") == 1631


# --- Kling O1's other modes -------------------------------------------------------------


def test_reference_image_to_video() -> None:
    """Reference Image to Video: Kling O1, 340, 5s–10s, 1080p, multiple reference images."""
    q = quote(CAT, "Kling O1", {"mode": "reference-image-to-video", "references": 1})
    assert q.base_credits == 340
    assert q.total_credits == 340
    assert q.params["duration"] == 5
    assert q.params["resolution"] == "1080p"
    for d in range(5, 11):
        assert (
            quote(CAT, "Kling O1", {"mode": "reference-image-to-video", "duration": d}).params[
                "duration"
            ]
            == d
        )
    for bad in (4, 11):
        with pytest.raises(ValueNotOffered):
            quote(CAT, "Kling O1", {"mode": "reference-image-to-video", "duration": bad})
    with pytest.raises(ValueNotOffered):
        quote(CAT, "Kling O1", {"mode": "reference-image-to-video", "resolution": "720p"})
    ten = total("Kling O1", mode="reference-image-to-video", duration=10)
    assert ten > 340
    assert ten == 680


def test_reference_images_count() -> None:
    # "Upload multiple reference images": at least 1.  ASSUMPTION: up to 7, no per-image charge.
    for n in range(1, 8):
        assert total("Kling O1", mode="reference-image-to-video", references=n) == 340
    for bad in (0, 8):
        with pytest.raises(ValueNotOffered) as err:
            quote(CAT, "Kling O1", {"mode": "reference-image-to-video", "references": bad})
        assert err.value.details["field"] == "references"


def test_reference_video() -> None:
    """Reference Video: Kling O1, 1,000, 5s–10s, 1080p."""
    q = quote(CAT, "Kling O1", {"mode": "reference-video"})
    assert q.base_credits == 1000
    assert q.total_credits == 1000
    assert q.params["resolution"] == "1080p"
    assert total("Kling O1", mode="reference-video", duration=10) == 2000
    assert total("Kling O1", mode="reference-video", duration=10) > 1000
    for bad in (4, 11):
        with pytest.raises(ValueNotOffered):
            quote(CAT, "Kling O1", {"mode": "reference-video", "duration": bad})
    with pytest.raises(ValueNotOffered):
        quote(CAT, "Kling O1", {"mode": "reference-video", "resolution": "4K"})
    assert total("Kling O1", mode="reference-video", preview=True) == 1020


def test_edit_video_as_chosen() -> None:
    # Everything is "Shown in tooltip".  ASSUMPTION: 3s–10s (the uploaded clip), 1080p,
    # 0-4 reference images, charged at the Reference Video rate of 200 per second.
    q = quote(CAT, "Kling O1", {"mode": "edit-video"})
    assert q.params["duration"] == 3
    assert q.total_credits == 600
    assert total("Kling O1", mode="edit-video", duration=10, references=4) == 2000
    with pytest.raises(ValueNotOffered):
        quote(CAT, "Kling O1", {"mode": "edit-video", "references": 5})
    with pytest.raises(ValueNotOffered):
        quote(CAT, "Kling O1", {"mode": "edit-video", "aspect_ratio": "16:9"})


def test_kling_o1_serves_all_the_other_modes() -> None:
    modes = set(CatalogSet.bundled()[CAT].find("Kling O1").modes)
    assert modes == {
        "image-to-video",
        "extend",
        "reference-image-to-video",
        "edit-video",
        "reference-video",
    }


KLING_O1_ONLY = ("reference-image-to-video", "edit-video", "reference-video")
NOT_KLING_O1 = [r for r in ROWS if r.name != "Kling O1"]


@pytest.mark.parametrize("row", NOT_KLING_O1, ids=_ids(NOT_KLING_O1))
def test_other_models_refuse_the_kling_o1_modes(row: Row) -> None:
    for mode in KLING_O1_ONLY:
        with pytest.raises(InvalidRequest) as err:
            quote(CAT, row.name, {"mode": mode})
        assert err.value.code == "value_not_offered"
        assert err.value.details["field"] == "mode"


def test_a_mode_not_offered_is_a_value_not_offered() -> None:
    with pytest.raises(ValueNotOffered):
        quote(CAT, "Sora 2", {"mode": "reference-video"})


# --- finding models ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spelling", "name"),
    [
        ("Kling 3.0 Pro", "Kling 3.0 Pro"),
        ("kling 3.0 pro", "Kling 3.0 Pro"),
        ("kling-3-0-pro", "Kling 3.0 Pro"),
        ("GOOGLE VEO 3.1 FAST", "Google Veo 3.1 Fast"),
        ("Veo 3.1 Fast", "Google Veo 3.1 Fast"),
        ("Veo 3.1", "Google Veo 3.1"),
        ("Veo 3.1 Lite", "Google Veo 3.1 Lite"),
        ("Grok Video", "xAI Grok Video"),
        ("Seedance 2.0", "Seedance 2"),
        ("Runway Gen-4 Turbo", "Runway Gen 4 Turbo"),
        ("pixverse v5.5", "PixVerse v5.5"),
    ],
)
def test_models_are_found_by_name_id_or_alias(spelling: str, name: str) -> None:
    q = quote(CAT, spelling, {})
    assert q.model_name == name
    assert q.total_credits == BY_NAME[name].base


def test_an_unknown_model_suggests_close_names() -> None:
    with pytest.raises(UnknownModel) as err:
        quote(CAT, "Kling 3.0 Por", {})
    assert "Kling 3.0 Pro" in err.value.details["suggestions"]


def test_extend_base_credits_are_the_same_as_the_original() -> None:
    """Other video modes: Extend, "Base credits: Same as original" (its default extension is
    the model's minimum duration, charged at the model's own rate)."""
    for m in CatalogSet.bundled()["video-studio"]:
        if "extend" in m.modes:
            assert (
                quote("video-studio", m.id, {"mode": "extend"}).base_credits
                == quote("video-studio", m.id).base_credits
            ), m.name
