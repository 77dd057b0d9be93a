"""A new user's first hour, from the terminal: each mistake ends in one line naming the setting
and what to do, with the exit status the README's table gives; reads create nothing; a call
that changed nothing says so; the help reads as a person would write it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.pg import PG_HOST, PG_PORT, PG_USER

#: The README's exit statuses.
BAD_INPUT, UNAVAILABLE = 2, 7


def gencredits(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Any:
    """The command as a user types it (a fresh process, nothing of gencredits in the env)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GENCREDITS_")}
    return subprocess.run(
        [sys.executable, "-m", "gencredits.cli", *args],
        cwd=cwd,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def one_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("url", "code", "says"),
    [
        (f"postgresql://{PG_USER}@127.0.0.1:1/gencredits", UNAVAILABLE, "start the server"),
        ("mysql://me@db.example/gencredits", BAD_INPUT, "runs on SQLite and PostgreSQL"),
        ("not a url", BAD_INPUT, "a URL such as sqlite:///"),
    ],
    ids=["unreachable", "unsupported-driver", "unparseable"],
)
@pytest.mark.parametrize("command", [["wallet", "list"], ["grant", "w", "5", "--kind", "bonus"]])
def test_a_database_mistake_is_one_line_naming_the_setting(
    tmp_path: Path, url: str, code: int, says: str, command: list[str]
) -> None:
    done = gencredits(*command, cwd=tmp_path, env={"GENCREDITS_DATABASE_URL": url})
    line = one_line(done.stderr)
    assert done.returncode == code, line
    assert "GENCREDITS_DATABASE_URL" in line and says in line


def test_serve_checks_the_database_before_it_says_it_serves(tmp_path: Path) -> None:
    url = f"postgres://{PG_USER}@127.0.0.1:1/gencredits"
    done = gencredits("serve", "--port", str(free_port()), cwd=tmp_path,
                      env={"GENCREDITS_DATABASE_URL": url})  # fmt: skip
    line = one_line(done.stderr)
    assert done.returncode == UNAVAILABLE
    assert line.startswith("error (unavailable): cannot use the database at postgresql+psycopg:")
    assert "serving" not in done.stdout + done.stderr


@pytest.mark.postgres
def test_postgres_urls_name_the_projects_driver(postgres_url: str, tmp_path: Path) -> None:
    name = postgres_url.rsplit("/", 1)[1]
    short = f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    assert gencredits("--database-url", short, "db", "upgrade", cwd=tmp_path).returncode == 0
    long = {"GENCREDITS_DATABASE_URL": f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"}
    made = gencredits("wallet", "create", "pg-1", "--json", cwd=tmp_path, env=long)
    assert json.loads(made.stdout)["id"] == "pg-1"
    missing = {"GENCREDITS_DATABASE_URL": short + "_not_there"}
    done = gencredits("wallet", "list", cwd=tmp_path, env=missing)
    line = one_line(done.stderr)
    assert done.returncode == UNAVAILABLE
    assert "does not exist" in line and f"createdb {name}_not_there" in line


@pytest.mark.postgres
def test_a_read_of_an_empty_postgres_database_says_to_migrate(
    postgres_url: str, tmp_path: Path
) -> None:
    done = gencredits("wallet", "list", cwd=tmp_path, env={"GENCREDITS_DATABASE_URL": postgres_url})
    assert done.returncode == UNAVAILABLE
    assert "no gencredits tables yet" in one_line(done.stderr)


def test_a_read_of_a_missing_database_creates_nothing(tmp_path: Path) -> None:
    where = tmp_path / "nonexistent" / "dir" / "x.db"
    env = {"GENCREDITS_DATABASE_URL": f"sqlite:///{where}"}
    for read in (["wallet", "list"], ["ledger", "w"], ["audit"], ["keys", "list"]):
        done = gencredits(*read, cwd=tmp_path, env=env)
        assert done.returncode == UNAVAILABLE, read
        line = one_line(done.stderr)
        assert f"no database at {where}" in line and "gencredits db upgrade" in line
    assert not (tmp_path / "nonexistent").exists()
    upgraded = gencredits("db", "upgrade", cwd=tmp_path, env=env)
    assert upgraded.returncode == 0 and "(the newest)" in upgraded.stdout
    assert "already at revision" in gencredits("db", "upgrade", cwd=tmp_path, env=env).stdout
    assert gencredits("wallet", "list", cwd=tmp_path, env=env).stdout == "no wallets\n"
    assert gencredits("keys", "list", cwd=tmp_path, env=env).stdout.startswith("no active keys")


def test_serve_refuses_a_port_in_use_before_it_says_it_serves(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = gencredits("serve", "--port", str(port), cwd=tmp_path)
    line = one_line(done.stderr)
    assert done.returncode == UNAVAILABLE
    assert f"GENCREDITS_PORT (--port): {port} on 127.0.0.1 is in use" in line
    assert not (tmp_path / "var").exists()  # refused before the database was touched


def test_a_call_that_changed_nothing_says_so(tmp_path: Path) -> None:
    env = {"GENCREDITS_DATABASE_URL": f"sqlite:///{tmp_path / 'g.db'}"}

    def run(*args: str) -> str:
        done = gencredits(*args, cwd=tmp_path, env=env)
        assert done.returncode == 0, done.stderr
        return str(done.stdout)

    run("wallet", "create", "u")
    run("grant", "u", "100", "--kind", "purchase", "-k", "g")
    first = run("job", "submit", "u", "gpt-image-2", "-c", "api-pricing", "-k", "s1", "-q").strip()
    assert first.startswith("job_") and "\n" not in first
    assert "; captured" in run("job", "complete", first, "-k", "c1")
    late = run("job", "fail", first, "-k", "f1", "--reason", "provider error")
    assert "status 1 (succeeded)" in late
    assert "nothing changed: already succeeded (already_succeeded)" in late
    assert "nothing changed: a replay" in run("job", "complete", first, "-k", "c1")
    second = run("job", "submit", "u", "gpt-image-2", "-c", "api-pricing", "-k", "s2", "-q")
    failed = run("job", "fail", second.strip(), "-k", "f2", "--reason", "provider error")
    assert "status 2 (failed)" in failed and "; released" in failed
    rows = [line for line in run("ledger", "u").splitlines() if " release " in line]
    assert len(rows) == 1 and "provider error" in rows[0]


def test_help_shows_what_to_type_and_the_version(tmp_path: Path) -> None:
    from gencredits import __version__

    assert gencredits("--version", cwd=tmp_path).stdout == f"gencredits {__version__}\n"
    top = gencredits("--help", cwd=tmp_path).stdout
    assert "--install-completion" in top and "--version" in top
    serve = gencredits("serve", "--help", cwd=tmp_path).stdout
    assert "--host ADDRESS" in serve and "Address to bind (default 127.0.0.1)." in serve
    submit = gencredits("job", "submit", "--help", cwd=tmp_path).stdout
    assert "--hold-ttl-s SECONDS" in submit and "--set KEY=VALUE" in submit
    assert "job submit [OPTIONS] {WALLET} {MODEL}" in submit


def test_no_help_names_a_python_type() -> None:
    from typer.main import get_command

    from gencredits.cli import app

    group = get_command(app)
    ctx = group.make_context("gencredits", ["--help"], resilient_parsing=True)
    unnamed = []
    stack: list[tuple[str, Any]] = [("", group)]
    while stack:
        path, command = stack.pop()
        if hasattr(command, "list_commands"):
            stack += [
                (f"{path} {n}", command.get_command(ctx, n)) for n in command.list_commands(ctx)
            ]
        unnamed += [
            f"{path} {p.name}"
            for p in command.params
            if p.metavar is None and not getattr(p, "is_flag", False) and p.name != "help"
        ]
    assert not unnamed


def test_models_show_ids_and_json_lists(tmp_path: Path) -> None:
    table = gencredits("models", "-c", "api-pricing", cwd=tmp_path).stdout
    assert "kling/v2-1-pro" in table
    rows = json.loads(gencredits("models", "-c", "api-pricing", "--json", cwd=tmp_path).stdout)
    kling = next(m for m in rows["models"] if m["model"] == "kling/v2-1-pro")
    assert isinstance(kling["durations"], list) and all(
        isinstance(d, int) for d in kling["durations"]
    )
    image = next(m for m in rows["models"] if m["model"] == "gpt-image-2")
    assert image["durations"] is None and image["resolutions"] is None


def test_one_number_format_in_a_quote(tmp_path: Path) -> None:
    out = gencredits("quote", "Veo 3.1", "-c", "creative-suite", "--set", "resolution=1080p",
                     "--set", "duration=8", "-n", "3", cwd=tmp_path).stdout  # fmt: skip
    assert "1,600" in out and "2,400" in out and "1600" not in out


def test_an_api_key_without_a_service_url_is_mentioned(tmp_path: Path) -> None:
    env = {"GENCREDITS_DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}", "GENCREDITS_API_KEY": "k"}
    done = gencredits("wallet", "create", "w", cwd=tmp_path, env=env)
    assert done.returncode == 0
    assert "used only with a service URL" in one_line(done.stderr)
