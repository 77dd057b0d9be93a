"""The pricing CLI as a user types it: the real `gencredits` command in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

EXE = [sys.executable, "-m", "gencredits.cli"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*EXE, *args], capture_output=True, text=True, timeout=60, check=False)


def test_quote_json_contract_with_balance() -> None:
    r = run(
        "quote",
        "sora-2-pro-text-to-video",
        "--catalog",
        "api-pricing",
        "--set",
        "resolution=1080p",
        "--set",
        "duration=12",
        "--generations",
        "3",
        "--balance",
        "1000",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    for key in ("model", "catalog", "catalog_version", "base_credits", "unit_credits"):
        assert key in out
    assert (out["unit_credits"], out["total_credits"]) == (96, 288)
    assert out["base_credits"] == 16
    assert out["affordable"] is True and out["capacity"] == 3
    assert sum(int(line["credits"]) for line in out["breakdown"]) == 288
    assert out["catalog_hash"].startswith("sha256:")


def test_quote_finds_the_catalog_when_only_one_has_the_model() -> None:
    r = run("quote", "kling/v2-1-pro", "--set", "duration=10", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["total_credits"] == 42


def test_quote_table_for_people() -> None:
    r = run("quote", "veo3", "-c", "api-pricing", "--set", "duration=16", "--balance", "100")
    assert r.returncode == 0, r.stderr
    assert "126 total" in r.stdout
    assert "not affordable" in r.stdout


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["quote", "sora 2", "-c", "api-pricing"], "unknown_model", ["did you mean"]),
        (
            ["quote", "veo3", "-c", "api-pricing", "--set", "duration=10"],
            "value_not_offered",
            ["duration", "'10'", "8s"],
        ),
        (
            ["quote", "veo3", "-c", "api-pricing", "--set", "colour=red"],
            "unknown_parameter",
            ["colour", "known"],
        ),
        (["quote", "veo3"], "ambiguous_model", ["api-pricing", "social-studio", "catalog"]),
        (["quote", "veo3", "--set", "duration"], "invalid_request", ["--set", "KEY=VALUE"]),
        (
            ["quote", "gpt-image-2", "--set", "input_images=2", "--set", "mode=text-to-image"],
            "bad_combination",
            ["input_images", "text-to-image"],
        ),
        (["quote", "veo3", "--catalog", "nope"], "unknown_catalog", ["nope", "api-pricing"]),
        (
            ["quote", "veo3_fast", "--set", "audio=perhaps"],
            "invalid_request",
            ["audio", "true or false"],
        ),
    ],
)
def test_rejections_exit_non_zero_with_one_line_and_no_traceback(
    args: list[str], code: str, words: list[str]
) -> None:
    r = run(*args)
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(f"error ({code}):")
    for word in words:
        assert word in lines[0]


def test_rejection_with_json_prints_the_error_object() -> None:
    r = run("quote", "veo3", "-c", "api-pricing", "--set", "duration=10", "--json")
    assert r.returncode == 2
    err = json.loads(r.stdout)["error"]
    assert err["code"] == "value_not_offered"
    assert err["details"]["field"] == "duration"


def test_models_lists_base_credits_and_filters_by_mode() -> None:
    r = run("models", "--catalog", "api-pricing", "--mode", "text-to-image", "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)["models"]
    assert {row["model"]: row["base_credits"] for row in rows} == {
        "gpt-image-2": 3,
        "google/nano-banana": 3,
        "nano-banana-2": 4,
        "nano-banana-pro": 12,
    }


def test_compare_is_cheapest_first() -> None:
    r = run("compare", "-c", "api-pricing", "--set", "duration=10", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    totals = [q["total_credits"] for q in out["quotes"]]
    assert totals == sorted(totals) and totals[0] == 21
    assert "api-pricing/veo3" in out["skipped"]


def test_catalog_check_reports_every_problem_with_its_path(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "catalog: x\nversion: '1'\nmodels:\n"
        "  kling-3-0-pro:\n    name: K\n    modes: [image-to-video]\n"
        "    accepts: {resolution: [1080p]}\n"
        "    price: {table: {by: [resolution], rows: {720p: 3}}}\n"
        "  other:\n    name: O\n    modes: [text-to-image]\n    price: {flat: -1}\n"
    )
    r = run("catalog", "check", str(bad))
    assert r.returncode == 2
    assert "models.kling-3-0-pro.price.table.rows: resolution value(s) 720p" in r.stdout
    assert "models.other.price.flat" in r.stdout
    assert "Traceback" not in r.stdout + r.stderr


def test_catalog_check_accepts_every_bundled_catalog() -> None:
    folder = Path(__file__).parents[2] / "src" / "gencredits" / "catalogs"
    files = sorted(str(p) for p in folder.glob("*.yaml"))
    r = run("catalog", "check", *files, "--json")
    assert r.returncode == 0, r.stdout
    assert all(x["ok"] for x in json.loads(r.stdout)["results"])


def test_project_file_totals_and_capacity(tmp_path: Path) -> None:
    project = tmp_path / "p.yaml"
    project.write_text(
        "catalog: api-pricing\nsteps:\n"
        "  - {model: nano-banana-2, count: 7, settings: {resolution: 2K}, label: scenes}\n"
        "  - {model: veo3_fast, settings: {duration: 24}}\n"
    )
    r = run("project", str(project), "--balance", "1000", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["total_credits"] == 7 * 6 + 27
    assert out["capacity"] == 1000 // 69
