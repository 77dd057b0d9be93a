"""The shared connection options: read once by the application's callback, wherever written."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from gencredits.cli._connection import hoist_shared_options, open_billing
from gencredits.errors import InvalidSetting


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["wallet", "show", "w"], ["wallet", "show", "w"]),
        (["wallet", "show", "w", "--url", "http://h", "--json"],
         ["--url", "http://h", "wallet", "show", "w", "--json"]),
        (["--api-key", "k", "sweep", "--database-url=sqlite://"],
         ["--api-key", "k", "--database-url=sqlite://", "sweep"]),
        (["job", "fail", "j", "--", "--url", "x"], ["job", "fail", "j", "--", "--url", "x"]),
        (["serve", "--database-url"], ["--database-url", "serve"]),  # click reports the gap
    ],
)  # fmt: skip
def test_the_shared_options_move_before_the_command(args: list[str], expected: list[str]) -> None:
    assert hoist_shared_options(args) == expected


def test_a_local_billing_has_the_retention_settings_of_the_service(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A local ``sweep`` deletes what the service would, not what the defaults say."""
    monkeypatch.setenv("GENCREDITS_OUTBOX_RETENTION_DAYS", "30")
    monkeypatch.setenv("GENCREDITS_IDEMPOTENCY_RETENTION_DAYS", "45")
    billing: Any = open_billing(None, None, f"sqlite:///{tmp_path}/local.db")
    try:
        assert billing.outbox_retention == timedelta(days=30)
        assert billing.idempotency_retention == timedelta(days=45)
    finally:
        billing.close()
    monkeypatch.setenv("GENCREDITS_OUTBOX_RETENTION_DAYS", "0")
    with pytest.raises(InvalidSetting, match="outbox_retention_days"):
        open_billing(None, None, f"sqlite:///{tmp_path}/local.db")
