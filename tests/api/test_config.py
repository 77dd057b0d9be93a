"""Settings: defaults < config file (TOML or YAML) < environment < explicit overrides, and a
bad value is one clear error naming the setting, the value and what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from gencredits.config import load_settings
from gencredits.errors import InvalidRequest


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("GENCREDITS_"):
            monkeypatch.delenv(name)


def test_file_then_environment_then_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    toml = tmp_path / "gencredits.toml"
    toml.write_text('port = 7000\nworkers = 2\nhold_ttl_s_default = 60\ncallback_secret = "s"\n')
    assert load_settings(toml).port == 7000
    monkeypatch.setenv("GENCREDITS_PORT", "9000")
    monkeypatch.setenv("GENCREDITS_HOLD_TTL_S_MAX", "120")  # checked against the FILE's default
    settings = load_settings(toml, workers=4)
    assert (settings.port, settings.workers, settings.hold_ttl_s_default) == (9000, 4, 60)
    assert settings.hold_ttl_s_max == 120
    assert settings.callback_secret is not None
    assert settings.callback_secret.get_secret_value() == "s"
    assert "s" not in repr(settings.callback_secret)


def test_yaml_and_comma_separated_catalog_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    yml = tmp_path / "gencredits.yaml"
    yml.write_text("catalog_files: [a.yaml]\nsweep_interval_s: 0\n")
    monkeypatch.setenv("GENCREDITS_CONFIG", str(yml))
    assert [p.name for p in load_settings().catalog_files] == ["a.yaml"]
    monkeypatch.setenv("GENCREDITS_CATALOG_FILES", "x.yaml, y.yaml")
    assert [p.name for p in load_settings().catalog_files] == ["x.yaml", "y.yaml"]
    assert load_settings().sweep_interval_s == 0


@pytest.mark.parametrize(
    ("env", "value", "field"),
    [
        ("GENCREDITS_PORT", "eighty", "port"),
        ("GENCREDITS_WORKERS", "0", "workers"),
        ("GENCREDITS_HOLD_TTL_S_MAX", "1", "hold_ttl_s_max"),
        ("GENCREDITS_SHARD_COUNT", "3", "shard_count"),
        ("GENCREDITS_SHARD_COUNT", "2048", "shard_count"),
        ("GENCREDITS_SHARD_COUNT", "-4", "shard_count"),
    ],
)
def test_a_bad_setting_names_itself(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str, field: str
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(InvalidRequest) as caught:
        load_settings()
    assert caught.value.details["field"] == field
    assert caught.value.details["env"] == env
    assert str(caught.value).startswith(f"{field}: ")


def test_unknown_keys_and_unreadable_files_are_refused(tmp_path: Path) -> None:
    typo = tmp_path / "typo.toml"
    typo.write_text("prot = 1\n")
    with pytest.raises(InvalidRequest, match="known settings"):
        load_settings(typo)
    with pytest.raises(InvalidRequest, match="readable"):
        load_settings(tmp_path / "missing.toml")
    ini = tmp_path / "settings.ini"
    ini.write_text("port=1")
    with pytest.raises(InvalidRequest, match=r"\.toml, \.yaml"):
        load_settings(ini)


def test_the_shard_count_is_off_by_default_or_a_power_of_two_up_to_1024(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_settings().shard_count == 0
    for allowed in ("1", "4", "1024"):
        monkeypatch.setenv("GENCREDITS_SHARD_COUNT", allowed)
        assert load_settings().shard_count == int(allowed)
    monkeypatch.setenv("GENCREDITS_SHARD_COUNT", "12")
    with pytest.raises(InvalidRequest) as caught:
        load_settings()
    assert caught.value.details["value"] == "12"
    assert "a power of two from 1 to 1024" in caught.value.details["allowed"]
