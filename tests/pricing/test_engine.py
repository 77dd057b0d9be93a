"""The rule primitives, each in a small catalog written in the domain's own words."""

from __future__ import annotations

from decimal import Decimal

import pytest

from gencredits import (
    BadCombination,
    InvalidCatalog,
    InvalidRequest,
    UnknownModel,
    UnknownParameter,
    ValueNotOffered,
    capacity,
    compare,
    quote,
)
from gencredits.pricing import ProjectStep, parse_catalog, parse_project, project_quote

STUDIO = parse_catalog(
    """
catalog: studio
version: "1"
profiles:
  clip:
    table:
      by: [resolution, duration]
      rows:
        720p: {4: 160, 8: 320}
        1080p: {4: 400, 8: 800}
models:
  veo:
    name: Veo Test
    aliases: [veo-t]
    modes: [text-to-video, image-to-video]
    accepts:
      duration: {values: [4, 8]}
      resolution: [1080p, 720p]
      aspect_ratio: ["16:9", "9:16"]
      audio: true
    price:
      profile: clip
      addons:
        - {param: audio, credits_per_second: 10}
    provider_cost: {currency: USD, per_second: "0.15"}
  kling:
    name: Kling Scale
    modes:
      image-to-video: {}
      extend:
        accepts: {duration: {min: 1, max: 10}}
        price: {rate_of: image-to-video, addons: [{param: preview, credits: 20}]}
      reference-image-to-video:
        accepts: {references: {min: 1, max: 4}}
        price: {scale: {base: 340}, addons: [{param: references, credits_each: 15}]}
    accepts:
      duration: {min: 3, max: 15}
      resolution: [720p, 1080p]
      preview: true
      prompt_enhancer: true
      end_frame: true
    price:
      scale: {base: 300}
      multipliers:
        - {by: resolution, factors: {720p: 1, 1080p: 1.5}}
      addons:
        - {param: preview, credits: 20}
        - {param: prompt_enhancer, credits: 2}
  fast:
    name: Fast Per Second
    modes: [image-to-video]
    accepts:
      duration: {values: [4, 6, 8]}
      audio: true
    price:
      per_second: {by: [audio], rows: {true: 50, false: 35}}
  odd:
    name: Odd Third
    modes: [text-to-image]
    price: {flat: 10, multipliers: [{by: input_images, factors: {0: 1.05}}]}
    accepts: {input_images: {max: 1}}
  seed:
    name: Seedance Routes
    modes: [text-to-video, upscale]
    accepts: {duration: {values: [5, 10]}}
    price: {scale: {base: 100}}
    default_route: draft
    routes:
      draft: {provider: fast-provider, provider_cost: {per_call: "0.02"}}
      premium: {provider: premium-provider, multiplier: 2.5, provider_cost: {per_call: "0.09"}}
      other: {price: {flat: 7}}
""",
    "studio.yaml",
)


def test_table_matrix_times_generations_the_creative_suite_example() -> None:
    q = quote(STUDIO, "Veo Test", {"resolution": "1080p", "duration": 8}, generations=3)
    assert (q.unit_credits, q.total_credits) == (800, 2400)
    assert q.base_credits == 160  # lowest resolution, shortest duration
    assert [line.kind for line in q.breakdown] == ["base", "generations"]


def test_breakdown_lines_add_up_to_the_total() -> None:
    q = quote(STUDIO, "kling", {"duration": 7, "resolution": "1080p", "preview": "true"}, 2)
    assert sum(line.credits for line in q.breakdown) == q.total_credits
    # 300 at 3 s -> 700 at 7 s, x1.5 for 1080p = 1050, + 20 preview = 1070, x2
    assert (q.unit_credits, q.total_credits) == (1070, 2140)


def test_per_second_rate_with_and_without_audio() -> None:
    assert quote(STUDIO, "fast", {"duration": 8, "audio": True}).total_credits == 400
    assert quote(STUDIO, "fast", {"duration": 8, "audio": False}).total_credits == 280
    assert quote(STUDIO, "fast").total_credits == 4 * 35  # defaults: shortest, audio off


def test_per_second_addon_and_provider_cost() -> None:
    q = quote(STUDIO, "veo", {"duration": 8, "audio": "yes"}, 2)
    assert q.unit_credits == 320 + 80
    assert q.provider_cost == Decimal("0.15") * 8 * 2
    assert q.provider_currency == "USD"


def test_extend_is_charged_at_the_original_rate_over_the_extension() -> None:
    # 300 credits per 3 s is 100 per second; at 1080p 150 per second.
    assert quote(STUDIO, "kling", {"mode": "extend", "duration": 5}).total_credits == 500
    q = quote(STUDIO, "kling", {"mode": "extend", "duration": 2, "resolution": "1080p"})
    assert q.total_credits == 300
    with pytest.raises(ValueNotOffered, match="1s-10s"):
        quote(STUDIO, "kling", {"mode": "extend", "duration": 11})


def test_a_mode_priced_from_another_models_rate() -> None:
    other = parse_catalog(
        """
catalog: o
version: "1"
models:
  original:
    name: Original
    modes: [image-to-video]
    accepts: {duration: {min: 5, max: 10}, resolution: [720p, 1080p]}
    price: {scale: {base: 250}, multipliers: [{by: resolution, factors: {1080p: 2}}]}
  extender:
    name: Extender
    modes:
      extend: {price: {rate_of: "original:image-to-video"}}
    accepts: {duration: {min: 1, max: 10}, resolution: [720p, 1080p]}
"""
    )
    # 250 per 5 s is 50 per second; 1080p doubles it.
    assert quote(other, "extender", {"duration": 3}).total_credits == 150
    assert quote(other, "extender", {"duration": 3, "resolution": "1080p"}).total_credits == 300
    with pytest.raises(InvalidCatalog, match="no model with id 'nobody'"):
        parse_catalog(
            "catalog: b\nversion: '1'\nmodels:\n  e:\n    name: E\n    modes: [extend]\n"
            "    accepts: {duration: {min: 1, max: 5}}\n    price: {rate_of: 'nobody:extend'}\n"
        )


def test_a_mode_with_its_own_price_and_references() -> None:
    q = quote(STUDIO, "kling", {"mode": "reference-image-to-video", "references": 3})
    assert q.total_credits == 340 + 45
    assert q.base_credits == 340 + 15  # the mode's default takes its minimum of one reference
    with pytest.raises(ValueNotOffered, match="1 to 4 references"):
        quote(STUDIO, "kling", {"mode": "reference-image-to-video", "references": 0})
    with pytest.raises(ValueNotOffered, match="takes no references"):
        quote(STUDIO, "kling", {"references": 1})


def test_one_rounding_rule_half_up_once_per_generation() -> None:
    # 10 x 1.05 = 10.5 -> 11 per generation; 3 generations = 33 (not round(31.5) = 32).
    q = quote(STUDIO, "odd", {}, 3)
    assert (q.unit_credits, q.total_credits) == (11, 33)
    assert sum(line.credits for line in q.breakdown) == 33
    assert "rounding" in [line.kind for line in q.breakdown]


def test_routes_default_named_and_priced_differently() -> None:
    draft = quote(STUDIO, "seed", {"duration": 10})
    premium = quote(STUDIO, "seed", {"duration": 10, "route": "premium"})
    assert (draft.route, draft.total_credits) == ("draft", 200)
    assert (premium.route, premium.total_credits) == ("premium", 500)
    assert premium.provider_cost == Decimal("0.09")
    assert quote(STUDIO, "seed", {"route": "other"}).total_credits == 7
    with pytest.raises(ValueNotOffered, match="draft, premium, other"):
        quote(STUDIO, "seed", {"route": "nope"})


def test_a_route_multiplier_scales_the_price_never_the_add_ons() -> None:
    """However a price is written (inline, profile, same_as), factors scale it first and
    add-ons are added after, so a premium route never multiplies an add-on."""
    cat = parse_catalog(
        """
catalog: r
version: "1"
profiles:
  shared: {scale: {base: 100}, addons: [{param: audio, credits: 10}]}
models:
  via-profile:
    name: Via Profile
    modes: [text-to-video]
    accepts: {duration: {values: [5]}, audio: true, references: {max: 2}}
    price: {profile: shared, addons: [{param: references, credits_each: 5}]}
    routes: {draft: {}, premium: {multiplier: 3}}
  inline:
    name: Inline
    modes: [text-to-video]
    accepts: {duration: {values: [5]}, audio: true, references: {max: 2}}
    price:
      scale: {base: 100}
      addons: [{param: audio, credits: 10}, {param: references, credits_each: 5}]
    routes: {draft: {}, premium: {multiplier: 3}}
"""
    )
    params = {"audio": True, "references": 2, "route": "premium"}
    for model in ("via-profile", "inline"):
        assert quote(cat, model, params).total_credits == 300 + 10 + 10, model


def test_upscale_is_a_mode_like_the_others() -> None:
    assert quote(STUDIO, "seed", {"mode": "upscale"}).mode == "upscale"


def test_catalog_name_version_and_hash_are_on_every_quote() -> None:
    q = quote(STUDIO, "veo")
    assert (q.catalog, q.catalog_version) == ("studio", "1")
    assert q.catalog_hash.startswith("sha256:") and len(q.catalog_hash) == 71


def test_hash_changes_with_a_price_and_not_with_formatting() -> None:
    text = (
        "catalog: h\nversion: '1'\n"
        "models:\n  a: {name: A, modes: [text-to-image], price: {flat: 3}}\n"
    )
    same = text.replace("{flat: 3}", "{flat:   3}") + "# a comment\n"
    other = text.replace("{flat: 3}", "{flat: 4}")
    assert parse_catalog(text).hash == parse_catalog(same).hash
    assert parse_catalog(text).hash != parse_catalog(other).hash


def test_lookup_by_id_name_or_alias_case_insensitively() -> None:
    for name in ("veo", "VEO TEST", "Veo-T", " veo test "):
        assert quote(STUDIO, name).model == "veo"


def test_rejections_name_field_value_and_what_is_allowed() -> None:
    with pytest.raises(UnknownModel, match="did you mean 'Veo Test'") as unknown:
        quote(STUDIO, "veo tset")
    assert unknown.value.details["field"] == "model"
    with pytest.raises(UnknownParameter, match="colour") as param:
        quote(STUDIO, "veo", {"colour": "red"})
    assert "duration" in param.value.details["allowed"]
    with pytest.raises(ValueNotOffered, match="offers 720p, 1080p") as value:
        quote(STUDIO, "veo", {"resolution": "4K"})
    assert value.value.details == {
        "field": "resolution",
        "value": "4K",
        "allowed": "Veo Test offers 720p, 1080p",
    }
    with pytest.raises(ValueNotOffered, match="no audio option"):
        quote(STUDIO, "kling", {"audio": "true"})
    with pytest.raises(InvalidRequest, match="true or false"):
        quote(STUDIO, "veo", {"audio": "maybe"})
    with pytest.raises(InvalidRequest, match="whole seconds"):
        quote(STUDIO, "veo", {"duration": "eight"})
    with pytest.raises(InvalidRequest, match="generations"):
        quote(STUDIO, "veo", {}, generations=0)


def test_a_missing_matrix_cell_is_a_bad_combination() -> None:
    sparse = parse_catalog(
        """
catalog: s
version: "1"
models:
  h:
    name: Hailuo Sparse
    modes: [image-to-video]
    accepts: {duration: {values: [6, 10]}, resolution: [768p, 1080p]}
    price:
      table: {by: [resolution, duration], rows: {768p: {6: 160, 10: 270}, 1080p: {6: 290}}}
"""
    )
    assert quote(sparse, "h", {"resolution": "1080p", "duration": 6}).total_credits == 290
    with pytest.raises(BadCombination, match="no price for resolution=1080p, duration=10"):
        quote(sparse, "h", {"resolution": "1080p", "duration": 10})


def test_capacity_how_many_a_balance_buys() -> None:
    assert capacity(1250, 7) == 178
    assert capacity(0, 7) == 0
    with pytest.raises(InvalidRequest):
        capacity(-1, 7)
    with pytest.raises(InvalidRequest):
        capacity(10, 0)


def test_compare_cheapest_first_and_says_who_cannot() -> None:
    result = compare(STUDIO, {"duration": 8})
    totals = [q.total_credits for q in result.quotes]
    assert totals == sorted(totals)
    assert {q.model for q in result.quotes} == {"veo", "kling", "fast"}
    assert "seed" in result.skipped and "odd" in result.skipped


def test_project_quote_itemises_and_totals() -> None:
    _, steps = parse_project(
        {
            "steps": [
                {"model": "Odd Third", "count": 7, "label": "scene images"},
                {"model": "fast", "settings": {"duration": 4, "audio": True}},
            ]
        }
    )
    pq = project_quote(STUDIO, steps)
    assert [t for _, _, t in pq.steps] == [77, 200]
    assert pq.total_credits == 277
    with pytest.raises(InvalidRequest, match=r"steps\.0: .*duration") as bad:
        project_quote(STUDIO, [ProjectStep(model="fast", params={"duration": 5})])
    assert bad.value.details["field"] == "steps.0.duration"


BROKEN = """
catalog: broken
version: "1"
profiles:
  p: {flat: 1}
models:
  kling-3-0-pro:
    name: Kling 3.0 Pro
    modes: [image-to-video]
    accepts: {duration: {min: 3, max: 15}, resolution: [1080p]}
    price:
      table: {by: [resolution], rows: {720p: 300}}
  twin:
    name: kling 3.0 pro
    modes: [image-to-video]
    price: {same_as: nobody}
  per-sec:
    name: Per Second Without Duration
    modes: [text-to-image]
    price: {per_second: 5, addons: [{param: audio, credits: 3}]}
  looped:
    name: Looped
    modes: [text-to-image]
    price: {profile: missing}
  two-bases:
    name: Two Bases
    modes: [text-to-image]
    price: {flat: 1, scale: {base: 2}}
  bad-res:
    name: Bad Res
    modes: [text-to-video]
    accepts: {resolution: [1080i], aspect_ratio: [16:9]}
    price: {flat: 1}
"""


def test_a_broken_catalog_reports_every_problem_with_its_path() -> None:
    with pytest.raises(InvalidCatalog) as info:
        parse_catalog(BROKEN, "broken.yaml")
    problems = info.value.problems
    expected = [
        "models.two-bases.price: give exactly one of",
        "models.bad-res.accepts.resolution: unknown resolution '1080i'",
        "models.bad-res.accepts.aspect_ratio: aspect ratio 969 must be a quoted string",
        "models.kling-3-0-pro.price.table.rows: resolution value(s) 720p are not offered",
        "models.twin: name or alias 'kling 3.0 pro' is already used by 'kling-3-0-pro'",
        "models.twin.price.same_as: no model with id 'nobody'",
        "models.per-sec.price.per_second: a per_second price needs the model to accept a duration",
        "models.per-sec.price.addons.0: add-on for audio, which this model does not accept",
        "models.looped.price.profile: no profile named 'missing'",
    ]
    for start in expected:
        assert any(p.startswith(start) for p in problems), (start, problems)
    assert len(problems) == len(expected)
