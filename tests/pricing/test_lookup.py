"""Models are found by id, display name or alias, case-insensitively, as the seeds print them."""

from __future__ import annotations

import pytest

from gencredits import InvalidRequest, UnknownModel, quote
from gencredits.pricing import CatalogSet


@pytest.mark.parametrize(
    ("catalog", "printed", "model_id"),
    [
        ("video-studio", "Kling 3.0 Pro", "kling-3-0-pro"),
        ("video-studio", "kling 3.0 pro", "kling-3-0-pro"),
        ("api-pricing", "kling/v2-1-pro", "kling/v2-1-pro"),
        ("api-pricing", "KLING/V2-1-PRO", "kling/v2-1-pro"),
        ("social-studio", "veo3.1/fast", "veo3.1/fast"),
        ("social-studio", "flux schnell", "flux-schnell"),
        ("social-studio", "flux-schnell", "flux-schnell"),
        ("creative-suite", "Veo 3.1", "veo-3.1"),
    ],
)
def test_found_as_printed(catalog: str, printed: str, model_id: str) -> None:
    assert quote(catalog, printed).model == model_id


def test_every_display_name_and_alias_finds_its_own_model() -> None:
    for cat in CatalogSet.bundled().values():
        for m in cat:
            for label in (m.id, m.name, *m.aliases):
                assert cat.find(label.upper()).id == m.id


def test_without_a_catalog_the_one_that_has_the_model_is_used() -> None:
    assert quote(None, "Kling 3.0 Pro").catalog == "video-studio"
    with pytest.raises(InvalidRequest, match="several catalogs") as info:
        quote(None, "veo3")
    assert info.value.code == "ambiguous_model"


def test_unknown_model_suggests_close_names() -> None:
    with pytest.raises(UnknownModel, match=r"Kling 3\.0 Pro") as info:
        quote("video-studio", "Kling 3.0 Prro")
    assert "Kling 3.0 Pro" in info.value.details["suggestions"]
