"""The creative-suite catalog against its price page, a help-centre page
("Understanding Credit Usage").

The page prints one figure (Veo 3.1, 1080p, 8 s, audio off: 800 per video, x3 = 2,400)
and otherwise states orderings.  Each statement is quoted next to the test that checks
it, for every model; figures and configurations are typed from the page, not read
back from the catalog.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from gencredits.errors import InvalidRequest, ValueNotOffered
from gencredits.pricing import CatalogSet, ProjectStep, load_project, project_quote, quote

CATALOG = "creative-suite"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "creative-suite-draft-then-final.yaml"

MODELS = ["Veo 3.1", "Veo 3.1 Fast", "Kling 3", "Seedance", "Seedance 2.5"]
# "Audio: Applicable to Seedance and Seedance 2.5 only."
WITH_AUDIO = ["Seedance", "Seedance 2.5"]
WITHOUT_AUDIO = [m for m in MODELS if m not in WITH_AUDIO]
# "Use faster, lighter models like Veo 3.1 Fast or Kling 3 for prompt testing, and
# reserve premium models for final outputs."
LIGHTER = ["Veo 3.1 Fast", "Kling 3"]
PREMIUM = "Veo 3.1"

RESOLUTIONS = ["720p", "1080p", "4K"]  # 720p lowest, 1080p standard, 4K highest
DURATIONS = [4, 6, 8]  # ASSUMPTION: "1-4 seconds" starts at 4 s (the draft is the lowest cost)
MODES = ["text-to-video", "image-to-video"]  # ASSUMPTION: the page names no modes

# "Credit Usage by Configuration", lowest to highest: (resolution, duration, generations).
BY_CONFIGURATION = [
    ("720p", 4, 1),  # Lowest
    ("720p", 8, 1),  # Low
    ("1080p", 4, 1),  # Low-Moderate
    ("1080p", 8, 1),  # Moderate
    ("1080p", 8, 2),  # Moderate-High
    ("4K", 8, 1),  # High
    ("4K", 8, 3),  # Highest
]


def total(
    model: str,
    resolution: str,
    duration: int,
    generations: int = 1,
    audio: bool | None = None,
    mode: str | None = None,
) -> int:
    params: dict[str, object] = {"resolution": resolution, "duration": duration}
    if audio is not None:
        params["audio"] = audio
    if mode is not None:
        params["mode"] = mode
    return quote(CATALOG, model, params, generations).total_credits


def audio_settings(model: str) -> list[bool | None]:
    return [False, True] if model in WITH_AUDIO else [None]


def test_the_catalog_has_exactly_the_models_the_page_names() -> None:
    assert sorted(m.name for m in CatalogSet.bundled()[CATALOG]) == sorted(MODELS)


def test_worked_example_veo_3_1_1080p_8s_audio_off() -> None:
    """Veo 3.1, 1080p, 8 seconds, audio off: 800 credits per video; 3 generations: 2,400."""
    result = quote(CATALOG, "Veo 3.1", {"resolution": "1080p", "duration": 8}, 3)
    assert result.unit_credits == 800
    assert result.total_credits == 2400
    assert result.params["audio"] is False
    assert sum(line.credits for line in result.breakdown) == 2400
    assert quote(CATALOG, "Veo 3.1", {"resolution": "1080p", "duration": "8s"}).total_credits == 800


@pytest.mark.parametrize("model", MODELS)
def test_changing_any_one_setting_of_the_example_lowers_the_total(model: str) -> None:
    """'Change any one setting: reduce duration to 4 seconds, drop resolution to 720p, or
    reduce generations to 1, and the total cost decreases accordingly.'"""
    for audio in audio_settings(model):
        example = total(model, "1080p", 8, 3, audio)
        assert total(model, "1080p", 4, 3, audio) < example
        assert total(model, "720p", 8, 3, audio) < example
        assert total(model, "1080p", 8, 1, audio) < example


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("mode", MODES)
def test_credit_usage_by_configuration_is_strictly_ordered(model: str, mode: str) -> None:
    for audio in audio_settings(model):
        totals = [total(model, r, d, g, audio, mode) for r, d, g in BY_CONFIGURATION]
        for (lower, a), (higher, b) in itertools.pairwise(
            zip(BY_CONFIGURATION, totals, strict=True)
        ):
            assert a < b, f"{model} audio={audio}: {lower}={a} is not below {higher}={b}"


@pytest.mark.parametrize("model", MODELS)
def test_the_draft_configuration_is_the_lowest_cost(model: str) -> None:
    """'Recommended draft configuration: 4 seconds, 720p, 1 generation, audio off. This
    produces a meaningful output at the lowest possible cost.'"""
    draft = total(model, "720p", 4, 1, False if model in WITH_AUDIO else None)
    others = [
        total(model, r, d, g, audio)
        for r, d, g, audio in itertools.product(
            RESOLUTIONS, DURATIONS, [1, 2, 3], audio_settings(model)
        )
        if (r, d, g, audio) not in {("720p", 4, 1, False), ("720p", 4, 1, None)}
    ]
    assert draft < min(others)
    # The draft is also what a request with no settings is priced at (the tooltip's base).
    plain = quote(CATALOG, model, {})
    assert plain.base_credits == plain.total_credits == draft
    assert plain.params["resolution"] == "720p"
    assert plain.params["duration"] == 4


@pytest.mark.parametrize("model", MODELS)
def test_higher_resolution_costs_more(model: str) -> None:
    """'720p: lowest cost; 1080p: standard cost; 4K: highest cost.'"""
    for duration, audio in itertools.product(DURATIONS, audio_settings(model)):
        totals = [total(model, r, duration, 1, audio) for r in RESOLUTIONS]
        assert totals[0] < totals[1] < totals[2], (duration, audio, totals)


@pytest.mark.parametrize("model", MODELS)
def test_longer_videos_cost_more(model: str) -> None:
    """'Longer videos consume more credits.'"""
    for resolution, audio in itertools.product(RESOLUTIONS, audio_settings(model)):
        totals = [total(model, resolution, d, 1, audio) for d in DURATIONS]
        assert totals[0] < totals[1] < totals[2], (resolution, audio, totals)


@pytest.mark.parametrize("model", MODELS)
def test_total_is_credits_per_video_times_generations(model: str) -> None:
    """'Total credits = credits per video x number of generations.'"""
    for r, d, audio in itertools.product(RESOLUTIONS, DURATIONS, audio_settings(model)):
        one = total(model, r, d, 1, audio)
        for generations in (2, 3, 4):
            assert total(model, r, d, generations, audio) == one * generations


@pytest.mark.parametrize("model", WITH_AUDIO)
def test_audio_costs_slightly_more_on_seedance(model: str) -> None:
    """'Generating video with audio costs slightly more than generating silent video.'"""
    for r, d in itertools.product(RESOLUTIONS, DURATIONS):
        silent = total(model, r, d, 1, False)
        with_audio = total(model, r, d, 1, True)
        assert silent < with_audio
        # ASSUMPTION: "slightly" read as at most a quarter more.
        assert with_audio * 4 <= silent * 5
    # Audio is off unless asked for.
    assert total(model, "1080p", 8) == total(model, "1080p", 8, 1, False)


@pytest.mark.parametrize("model", WITHOUT_AUDIO)
def test_audio_is_not_offered_on_other_models(model: str) -> None:
    with pytest.raises(ValueNotOffered) as err:
        total(model, "1080p", 8, 1, True)
    assert err.value.details["field"] == "audio"
    # Asking for it off is fine and changes nothing.
    assert total(model, "1080p", 8, 1, False) == total(model, "1080p", 8)


@pytest.mark.parametrize("model", LIGHTER)
def test_lighter_models_cost_less_than_the_premium_one(model: str) -> None:
    for r, d in itertools.product(RESOLUTIONS, DURATIONS):
        assert total(model, r, d) < total(PREMIUM, r, d)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("resolution", RESOLUTIONS)
@pytest.mark.parametrize("duration", DURATIONS)
def test_every_offered_combination_quotes_in_every_mode(
    model: str, resolution: str, duration: int
) -> None:
    for mode in MODES:
        assert total(model, resolution, duration, 1, None, mode) > 0


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("resolution", "480p"),
        ("resolution", "2K"),
        ("duration", 1),
        ("duration", 3),
        ("duration", 5),
        ("duration", 10),
        ("aspect_ratio", "16:9"),
        ("preview", True),
        ("prompt_enhancer", True),
        ("references", 1),
    ],
)
def test_values_not_offered_are_refused(model: str, param: str, value: object) -> None:
    with pytest.raises(ValueNotOffered) as err:
        quote(CATALOG, model, {param: value})
    assert err.value.details["field"] == param


@pytest.mark.parametrize("model", MODELS)
def test_generations_above_the_limit_are_refused(model: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        quote(CATALOG, model, {}, 5)  # ASSUMPTION: at most 4 generations per run
    assert err.value.details["field"] == "generations"


@pytest.mark.parametrize("spelling", ["veo 3.1", "VEO 3.1 FAST", "kling 3", "seedance 2.5"])
def test_models_are_found_case_insensitively(spelling: str) -> None:
    assert quote(CATALOG, spelling, {}).model_name.casefold() == spelling.casefold()


def test_draft_then_final_project() -> None:
    """'Stage 1 - Draft: run at 720p, 4 seconds, single generation ... Stage 2 - Final:
    upgrade to your target resolution and duration ... increase the generation count at
    this stage only.'  'This two-stage approach consistently produces better outputs at
    lower total credit cost than attempting to generate final-quality outputs from the
    start.'"""
    catalog, steps = load_project(EXAMPLE)
    assert catalog == CATALOG
    project = project_quote(catalog, steps)
    (draft_step, draft, draft_total), (final_step, final, final_total) = project.steps
    assert draft.total_credits == total("Veo 3.1", "720p", 4)  # the draft configuration
    assert draft_total == draft.total_credits * draft_step.count
    assert final_total == final.total_credits == 2400  # the worked example
    assert project.total_credits == draft_total + final_total
    # The same iterations at final quality from the start cost more.
    from_the_start = [
        ProjectStep(
            model=s.model, params=final_step.params, count=s.count, generations=s.generations
        )
        for s in steps
    ]
    assert project_quote(catalog, from_the_start).total_credits > project.total_credits
