"""``gencredits catalog diff|publish|versions`` as an operator runs them."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from gencredits.cli import app

Invoke = Callable[..., Any]


@pytest.fixture
def invoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    monkeypatch.setenv("GENCREDITS_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    monkeypatch.delenv("GENCREDITS_URL", raising=False)
    monkeypatch.delenv("GENCREDITS_CONFIG", raising=False)
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> Any:
        result = runner.invoke(app, list(args))
        assert result.exit_code == code, result.output
        return json.loads(result.stdout) if "--json" in args else result.stdout

    return run


@pytest.fixture
def edited(tmp_path: Path) -> Path:
    """creative-suite with Veo 3.1 at 1080p, 8 s up from 800 to 880, as version 2026.12.1."""
    text = (resources.files("gencredits") / "catalogs" / "creative-suite.yaml").read_text("utf-8")
    text = text.replace("1080p: {4: 500, 6: 650, 8: 800}", "1080p: {4: 500, 6: 650, 8: 880}")
    path = tmp_path / "creative-suite.yaml"
    path.write_text(text.replace('version: "2026.11.1"', 'version: "2026.12.1"'), "utf-8")
    return path


def test_diff_of_a_bundled_catalog_against_an_edited_copy(invoke: Invoke, edited: Path) -> None:
    answer = invoke("catalog", "diff", "creative-suite", str(edited), "--json")
    assert (answer["old_version"], answer["new_version"]) == ("2026.11.1", "2026.12.1")
    assert [
        (r["mode"], r["old_credits"], r["new_credits"], r["change_percent"]) for r in answer["rows"]
    ] == [
        ("text-to-video", 800, 880, "10.0"),
        ("image-to-video", 800, 880, "10.0"),
    ]
    table = invoke("catalog", "diff", "creative-suite", str(edited))
    assert "2026.11.1 -> 2026.12.1" in table and "+10.0%" in table
    assert "2 of " in table and "combinations change price" in table


def test_publish_at_a_time_then_versions_and_a_stored_diff(invoke: Invoke, edited: Path) -> None:
    at = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    made = invoke("catalog", "publish", str(edited), "--at", at.isoformat(), "--json")
    assert (made["version"], made["created"], made["active"]) == ("2026.12.1", True, False)
    assert datetime.fromisoformat(made["effective_at"]) == at
    listed = invoke("catalog", "versions", "creative-suite", "--json")
    assert [(v["version"], v["active"], v["published_by"]) for v in listed["items"]] == [
        ("2026.11.1", True, "seed"),
        ("2026.12.1", False, "cli"),
    ]
    stored = invoke(
        "catalog", "diff", "creative-suite@active", "creative-suite@2026.12.1", "--json"
    )
    assert len(stored["rows"]) == 2


def test_bad_input_is_one_clear_line_and_stores_nothing(
    invoke: Invoke, edited: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(edited.read_text("utf-8").replace("8: 880", "8: -5"), "utf-8")
    refused = invoke("catalog", "publish", str(broken), "--json", code=2)
    assert refused["error"]["code"] == "invalid_catalog"
    assert any("rows.1080p.8" in p for p in refused["error"]["details"]["problems"])
    naive = invoke(
        "catalog", "publish", str(edited), "--at", "2030-01-01T00:00:00", "--json", code=2
    )
    assert naive["error"]["details"]["field"] == "--at"
    past = invoke(
        "catalog", "publish", str(edited), "--at", "2020-01-01T00:00:00Z", "--json", code=2
    )
    assert past["error"]["details"]["field"] == "effective_at"
    listed = invoke("catalog", "versions", "creative-suite", "--json")
    assert [v["version"] for v in listed["items"]] == ["2026.11.1"]
    missing = invoke("catalog", "diff", "creative-suite@9.9", str(edited), "--json", code=3)
    assert missing["error"]["code"] == "catalog_version_not_found"


def test_local_commands_price_on_the_version_in_effect_in_the_database(
    invoke: Invoke, edited: Path, tmp_path: Path
) -> None:
    from gencredits.ledger.catalog_versions import CatalogVersionRecord
    from gencredits.pricing import load_catalog
    from gencredits.storage.sql.catalog_versions import SqlCatalogVersions
    from gencredits.storage.sql.engine import make_engine

    invoke("catalog", "versions", "creative-suite", "--json")  # migrates and seeds
    engine = make_engine(f"sqlite:///{tmp_path}/cli.db")
    # A version another worker published earlier, in effect since a minute ago.
    new = load_catalog(edited)
    now = datetime.now(UTC)
    record = CatalogVersionRecord(
        new.name, new.version, new.hash, edited.read_text("utf-8"), now - timedelta(minutes=1),
        now - timedelta(minutes=2), "ops",
    )  # fmt: skip
    assert SqlCatalogVersions(engine).insert_version(record) is not None
    engine.dispose()
    invoke("wallet", "create", "w1", "--json")
    invoke("grant", "w1", "5000", "--kind", "purchase", "--json")
    job = invoke(
        "job", "submit", "w1", "Veo 3.1", "-c", "creative-suite", "--set", "resolution=1080p",
        "--set", "duration=8", "--json",
    )  # fmt: skip
    assert (job["credits_quoted"], job["catalog_version"]) == (880, "2026.12.1")


def test_with_a_service_url_publishing_is_refused_not_written_to_a_local_file(
    invoke: Invoke, edited: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GENCREDITS_URL", "http://127.0.0.1:9")
    answer = invoke("catalog", "publish", str(edited), "--json", code=2)
    assert answer["error"]["code"] == "invalid_request"
    assert answer["error"]["details"]["field"] == "GENCREDITS_URL"
    assert "/v1/catalogs/{name}/versions" in answer["error"]["details"]["allowed"]
    assert not (tmp_path / "cli.db").exists()  # nothing was written locally
