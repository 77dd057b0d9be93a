"""The shared connection options: read once by the application's callback, wherever written."""

from __future__ import annotations

import pytest

from gencredits.cli._connection import hoist_shared_options


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
