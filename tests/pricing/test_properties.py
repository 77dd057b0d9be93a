"""Properties over every bundled catalog (Hypothesis).

- every bundled model quotes at its defaults, in every mode and route;
- the total never falls when duration, resolution tier, generations or an add-on goes up;
- the breakdown always adds up to the total, and the total is unit x generations.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gencredits import BadCombination, quote
from gencredits.pricing import Catalog, CatalogSet
from gencredits.pricing.catalog import CompiledMode, CompiledModel
from gencredits.pricing.schema import BOOL_PARAMS, COUNT_PARAMS

BUNDLED = CatalogSet.bundled()
TARGETS: list[tuple[Catalog, CompiledModel, str, str]] = [
    (c, m, mode, route)
    for c in BUNDLED.values()
    for m in c
    for mode in m.modes
    for route in m.routes
]


def test_there_are_bundled_models() -> None:
    assert len(TARGETS) > 20


def test_every_bundled_model_quotes_at_its_defaults_in_every_mode_and_route() -> None:
    for cat, m, mode, route in TARGETS:
        q = quote(cat, m.id, {"mode": mode, "route": route})
        assert q.total_credits == q.unit_credits == q.base_credits >= 0, (cat.name, m.id, mode)
        assert q.model == m.id and q.mode == mode and q.route == route


@st.composite
def requests(draw: st.DrawFn) -> tuple[Catalog, CompiledModel, CompiledMode, dict[str, object]]:
    cat, m, mode, route = draw(st.sampled_from(TARGETS))
    compiled = m.modes[mode]
    a = compiled.accepts
    params: dict[str, object] = {"mode": mode, "route": route}
    if a.durations:
        params["duration"] = draw(st.sampled_from(a.durations))
    if a.resolutions:
        params["resolution"] = draw(st.sampled_from(a.resolutions))
    for p in BOOL_PARAMS:
        if p in a.switches:
            params[p] = draw(st.booleans())
    for p in COUNT_PARAMS:
        if p in a.counts:
            low, high = a.counts[p]
            params[p] = draw(st.integers(low, high))
    return cat, m, compiled, params


def _total(cat: Catalog, model: str, params: dict[str, object], generations: int = 1) -> int | None:
    try:
        return quote(cat, model, params, generations).total_credits
    except BadCombination:  # a sparse matrix may not price this cell
        return None


@settings(max_examples=400, deadline=None)
@given(requests(), st.integers(1, 4))
def test_total_never_falls_when_something_goes_up(
    req: tuple[Catalog, CompiledModel, CompiledMode, dict[str, object]], generations: int
) -> None:
    cat, m, compiled, params = req
    generations = min(generations, compiled.accepts.generations_max)
    base = _total(cat, m.id, params, generations)
    if base is None:
        return
    a = compiled.accepts
    ups: list[tuple[dict[str, object], int]] = []
    if a.durations and params["duration"] != a.durations[-1]:
        longer = a.durations[a.durations.index(params["duration"]) + 1]  # type: ignore[arg-type]
        ups.append(({**params, "duration": longer}, generations))
    if a.resolutions and params["resolution"] != a.resolutions[-1]:
        higher = a.resolutions[a.resolutions.index(params["resolution"]) + 1]  # type: ignore[arg-type]
        ups.append(({**params, "resolution": higher}, generations))
    for p in BOOL_PARAMS:
        if p in a.switches and not params[p]:
            ups.append(({**params, p: True}, generations))
    for p in COUNT_PARAMS:
        if p in a.counts and params[p] != a.counts[p][1]:
            ups.append(({**params, p: params[p] + 1}, generations))  # type: ignore[operator]
    if generations < a.generations_max:
        ups.append((params, generations + 1))
    for up, gens in ups:
        more = _total(cat, m.id, up, gens)
        if more is not None:
            assert more >= base, (cat.name, m.id, params, up, gens)


@settings(max_examples=300, deadline=None)
@given(requests(), st.integers(1, 4))
def test_breakdown_adds_up_and_total_is_unit_times_generations(
    req: tuple[Catalog, CompiledModel, CompiledMode, dict[str, object]], generations: int
) -> None:
    cat, m, compiled, params = req
    generations = min(generations, compiled.accepts.generations_max)
    try:
        q = quote(cat, m.id, params, generations)
    except BadCombination:
        return
    assert q.total_credits == q.unit_credits * generations
    assert sum(line.credits for line in q.breakdown) == q.total_credits
    assert isinstance(q.total_credits, int) and not isinstance(q.total_credits, bool)
