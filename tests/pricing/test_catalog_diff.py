"""The diff of two catalogs: a bundled catalog against an edited copy shows exactly the
combinations whose price moved, with the old and new price and the change in percent."""

from __future__ import annotations

from decimal import Decimal
from importlib import resources

from gencredits.pricing import CatalogSet, parse_catalog
from gencredits.pricing.diff import diff_catalogs


def bundled_text(name: str) -> str:
    return (resources.files("gencredits") / "catalogs" / f"{name}.yaml").read_text("utf-8")


def edited(name: str, old: str, new: str) -> str:
    text = bundled_text(name)
    assert text.count(old) == 1, old
    return text.replace(old, new).replace('version: "2026.11.1"', 'version: "2026.12.1"')


def test_an_edited_copy_of_a_bundled_catalog_shows_each_moved_price() -> None:
    bundled = CatalogSet.bundled()["creative-suite"]
    copy = parse_catalog(
        edited(
            "creative-suite", "1080p: {4: 500, 6: 650, 8: 800}", "1080p: {4: 500, 6: 650, 8: 880}"
        )
    )
    result = diff_catalogs(bundled, copy)
    assert (result.old_version, result.new_version) == ("2026.11.1", "2026.12.1")
    assert result.old_hash == bundled.hash and result.new_hash == copy.hash
    moved = {
        (r.model, r.mode, r.old_credits, r.new_credits, r.change_percent) for r in result.changes
    }
    veo = bundled.find("Veo 3.1").id
    assert moved == {
        (veo, "text-to-video", 800, 880, Decimal("10.0")),
        (veo, "image-to-video", 800, 880, Decimal("10.0")),
    }
    assert all(
        (r.settings["duration"], r.settings["resolution"]) == (8, "1080p") for r in result.changes
    )
    # Every other combination is listed unchanged, each priced as a quote would price it.
    assert len(result.rows) > 100 and not result.added_models and not result.removed_models


def test_a_per_second_price_shows_its_rate_before_and_after() -> None:
    bundled = CatalogSet.bundled()["social-studio"]
    assert not diff_catalogs(bundled, bundled).changes
    copy = parse_catalog(
        edited("social-studio", "rows: {true: 50, false: 35}", "rows: {true: 55, false: 35}")
    )
    result = diff_catalogs(bundled, copy)
    assert result.changes
    for r in result.changes:  # only the sound-on clips of the models sharing that price
        assert r.settings["audio"] is True
        assert (r.old_rate_per_second, r.new_rate_per_second) == (Decimal(50), Decimal(55))
        assert r.old_credits == 50 * int(str(r.settings["duration"]))
        assert r.change_percent == Decimal("10.0")
    silent = [r for r in result.rows if r.settings.get("audio") is False and r.old_rate_per_second]
    assert silent and all(r.new_rate_per_second == Decimal(35) for r in silent)


def test_a_cut_shows_a_negative_change_and_the_reverse_diff_a_rise() -> None:
    bundled = CatalogSet.bundled()["creative-suite"]
    copy = parse_catalog(
        edited("creative-suite", "720p: {4: 300, 6: 375, 8: 450}", "720p: {4: 270, 6: 375, 8: 450}")
    )
    cut = diff_catalogs(bundled, copy).changes
    assert {(r.old_credits, r.new_credits, r.change_percent) for r in cut} == {
        (300, 270, Decimal("-10.0"))
    }
    reverse = diff_catalogs(copy, bundled)
    assert {r.change_percent for r in reverse.changes} == {Decimal("11.1")}


def test_models_added_and_removed_are_named() -> None:
    def small(version: str, models: dict[str, int]) -> str:
        text = f"catalog: small\nversion: '{version}'\nmodels:\n"
        for name, price in models.items():
            text += f"  {name}:\n    name: {name}\n    modes: [text-to-image]\n"
            text += f"    price: {{flat: {price}}}\n"
        return text

    old = parse_catalog(small("1", {"kept": 4, "gone": 9}))
    new = parse_catalog(small("2", {"kept": 5, "fresh": 7}))
    result = diff_catalogs(old, new)
    assert (result.added_models, result.removed_models) == (("fresh",), ("gone",))
    assert [(r.model, r.old_credits, r.new_credits, r.change_percent) for r in result.rows] == [
        ("kept", 4, 5, Decimal("25.0"))
    ]
