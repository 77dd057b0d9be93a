"""The social-studio catalog against its price page, the help page "AI Video Credits".

Every figure below is typed again from the seed page, not read back from the catalog,
so this file is an independent transcription: a typo on either side fails a test.
Assumptions the catalog makes where the page is silent are marked ASSUMPTION here too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gencredits.errors import BadCombination, InvalidRequest, UnknownModel, ValueNotOffered
from gencredits.pricing import CatalogSet, capacity, load_project, project_quote, quote

CATALOG = "social-studio"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "social-studio-30s-video.yaml"

# "AI Text-to-Image Model | Credit Cost Per Image", every row as printed.
TEXT_TO_IMAGE = [
    ("flux schnell", 1),
    ("flux dev", 10),
    ("flux 1.1 pro", 15),
    ("flux 1.1 pro ultra", 20),
    ("recraft v3", 15),
    ("ideogram v2", 30),
    ("luma photon", 10),
    ("gpt-image-1 (ChatGPT 4o)", 25),
    ("nano-banana", 15),
    ("nano-banana-2", 30),
    ("nano-banana-pro", 50),
    ("bytedance/seedream/v4.5/text-to-image", 15),
    ("imagen4/preview/fast", 7),
]
# The "/edit" rows of the same table: their own models, in image-to-image mode.
IMAGE_EDIT = [
    ("nano-banana/edit", 15),
    ("nano-banana-2/edit", 30),
    ("nano-banana-pro/edit", 50),
    ("bytedance/seedream/v4.5/edit", 15),
]
# "AI Image-to-Video Model | Credit Cost Per Video Clip", the flat rows.
IMAGE_TO_VIDEO = [
    ("framepack", 55),
    ("kling v1.5", 210),
    ("kling v1.6", 210),
    ("luma dream machine", 170),
    ("runway gen3", 85),
    ("minimax", 170),
    ("google veo2", 835),
    ("veo3", 1250),
    ("veo3/fast", 400),
]
# "50 with audio, 35 without audio (per second)".
PER_SECOND = [
    "veo3.1/fast",
    "veo3.1/fast/image-to-video",
    "veo3.1/fast/first-last-frame-to-video",
]
RATE_WITH_AUDIO = 50
RATE_WITHOUT_AUDIO = 35
PER_SECOND_DURATIONS = [4, 6, 8]  # ASSUMPTION: the durations these endpoints offer


def q(model: str, params: dict[str, object] | None = None, generations: int = 1) -> int:
    return quote(CATALOG, model, params or {}, generations).total_credits


def test_every_model_of_the_seed_is_in_the_catalog_and_nothing_else() -> None:
    cat = CatalogSet.bundled()[CATALOG]
    printed = [n for n, _ in TEXT_TO_IMAGE + IMAGE_EDIT + IMAGE_TO_VIDEO] + PER_SECOND
    assert sorted(m.name for m in cat) == sorted(printed)


@pytest.mark.parametrize(("model", "credits"), TEXT_TO_IMAGE)
def test_text_to_image_cost_per_image(model: str, credits: int) -> None:
    result = quote(CATALOG, model, {})
    assert result.mode == "text-to-image"
    assert result.base_credits == credits
    assert result.total_credits == credits
    assert result.model_name == model  # the display name exactly as printed


@pytest.mark.parametrize(("model", "credits"), IMAGE_EDIT)
def test_edit_ids_are_image_to_image_models(model: str, credits: int) -> None:
    result = quote(CATALOG, model, {})
    assert result.mode == "image-to-image"
    assert result.total_credits == credits
    assert result.params["input_images"] == 1  # an edit starts from an image
    # ASSUMPTION: up to 10 input images, at the same price.
    assert q(model, {"input_images": 10}) == credits
    with pytest.raises(ValueNotOffered):
        q(model, {"input_images": 11})
    with pytest.raises(ValueNotOffered):
        q(model, {"input_images": 0})


@pytest.mark.parametrize("model", [n for n, _ in IMAGE_EDIT])
def test_edit_models_have_no_text_to_image_mode(model: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        q(model, {"mode": "text-to-image"})
    assert err.value.code == "value_not_offered"


@pytest.mark.parametrize(("model", "credits"), IMAGE_TO_VIDEO)
def test_image_to_video_cost_per_clip(model: str, credits: int) -> None:
    result = quote(CATALOG, model, {})
    assert result.mode == "image-to-video"
    assert result.base_credits == credits
    assert result.total_credits == credits


@pytest.mark.parametrize("model", PER_SECOND)
@pytest.mark.parametrize("duration", PER_SECOND_DURATIONS)
def test_per_second_models_with_and_without_audio(model: str, duration: int) -> None:
    assert q(model, {"duration": duration, "audio": True}) == RATE_WITH_AUDIO * duration
    assert q(model, {"duration": duration, "audio": False}) == RATE_WITHOUT_AUDIO * duration
    # ASSUMPTION: audio is off unless asked for.
    assert q(model, {"duration": duration}) == RATE_WITHOUT_AUDIO * duration


@pytest.mark.parametrize("model", PER_SECOND)
def test_per_second_models_default_to_the_shortest_clip(model: str) -> None:
    result = quote(CATALOG, model, {})
    assert result.params["duration"] == min(PER_SECOND_DURATIONS)
    assert result.base_credits == RATE_WITHOUT_AUDIO * min(PER_SECOND_DURATIONS)


@pytest.mark.parametrize("model", PER_SECOND)
@pytest.mark.parametrize("duration", [1, 3, 5, 7, 10, 30])
def test_per_second_models_refuse_other_durations(model: str, duration: int) -> None:
    with pytest.raises(ValueNotOffered) as err:
        q(model, {"duration": duration})
    assert "4s, 6s, 8s" in err.value.message


@pytest.mark.parametrize("model", PER_SECOND)
def test_audio_and_longer_clips_cost_more(model: str) -> None:
    for d in PER_SECOND_DURATIONS:
        assert q(model, {"duration": d, "audio": True}) > q(model, {"duration": d})
    totals = [q(model, {"duration": d}) for d in PER_SECOND_DURATIONS]
    assert totals == sorted(set(totals))


def test_first_last_frame_model_takes_an_end_frame_at_the_same_rate() -> None:
    model = "veo3.1/fast/first-last-frame-to-video"
    assert q(model, {"duration": 8, "end_frame": True}) == RATE_WITHOUT_AUDIO * 8
    both = {"duration": 8, "start_frame": True, "end_frame": True, "audio": True}
    assert q(model, both) == RATE_WITH_AUDIO * 8


@pytest.mark.parametrize(
    ("model", "param", "value"),
    [
        ("flux schnell", "duration", 5),
        ("flux schnell", "resolution", "1080p"),
        ("flux schnell", "audio", True),
        ("gpt-image-1", "aspect_ratio", "16:9"),
        ("framepack", "duration", 5),
        ("veo3", "audio", True),
        ("kling v1.6", "preview", True),
        ("veo3.1/fast", "resolution", "1080p"),
        ("veo3.1/fast", "prompt_enhancer", True),
        ("veo3.1/fast/image-to-video", "end_frame", True),
        ("veo3.1/fast", "references", 1),
    ],
)
def test_settings_the_page_does_not_offer_are_refused(
    model: str, param: str, value: object
) -> None:
    with pytest.raises(ValueNotOffered) as err:
        q(model, {param: value})
    assert err.value.details["field"] == param


def test_text_to_image_models_refuse_input_images() -> None:
    with pytest.raises((ValueNotOffered, BadCombination)):
        q("flux dev", {"input_images": 1})


@pytest.mark.parametrize(
    ("spelling", "model_id"),
    [
        ("flux schnell", "flux-schnell"),
        ("flux-schnell", "flux-schnell"),
        ("FLUX SCHNELL", "flux-schnell"),
        ("gpt-image-1 (ChatGPT 4o)", "gpt-image-1"),
        ("gpt-image-1", "gpt-image-1"),
        ("ChatGPT 4o", "gpt-image-1"),
        ("chatgpt 4o", "gpt-image-1"),
        ("veo3.1/fast", "veo3.1/fast"),
        ("Kling V1.5", "kling-v1.5"),
        ("nano-banana/edit", "nano-banana/edit"),
    ],
)
def test_models_are_found_as_the_page_spells_them(spelling: str, model_id: str) -> None:
    assert quote(CATALOG, spelling, {}).model == model_id


def test_an_unknown_model_suggests_close_names() -> None:
    with pytest.raises(UnknownModel) as err:
        q("flux schnel")
    assert "flux schnell" in err.value.details["suggestions"]


def test_flux_schnell_is_the_cheapest_model() -> None:
    """'To make the cheapest videos, select ... flux-schnell which costs 1 credit.'"""
    everything = [n for n, _ in TEXT_TO_IMAGE + IMAGE_EDIT + IMAGE_TO_VIDEO] + PER_SECOND
    cheapest = min(everything, key=lambda n: quote(CATALOG, n, {}).base_credits)
    assert cheapest == "flux schnell"
    assert q("flux-schnell") == 1


def test_generations_multiply_the_unit_price() -> None:
    assert q("veo3.1/fast", {"duration": 8, "audio": True}, 3) == 3 * 50 * 8
    assert q("flux dev", {}, 4) == 40
    with pytest.raises(InvalidRequest):
        q("flux dev", {}, 5)  # ASSUMPTION: at most 4 generations per request


def test_worked_example_thirty_second_video_costs_seven_credits() -> None:
    """'30 second video using the cheapest settings only costs 7 credits, so the Starter
    plan with 1250 credits allows you to make 178 30-second videos.'"""
    catalog, steps = load_project(EXAMPLE)
    assert catalog == CATALOG
    project = project_quote(catalog, steps)
    assert project.total_credits == 7
    ((step, step_quote, step_total),) = project.steps
    assert step.count == 7  # seven scene images
    assert step_quote.model == "flux-schnell"
    assert step_quote.unit_credits == 1
    assert step_total == 7
    assert capacity(1250, project.total_credits) == 178
    assert capacity(1250, 7) == 178
