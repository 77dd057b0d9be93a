"""Service commands: ``gencredits serve`` and ``gencredits keys create|list|revoke``."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from gencredits.api.keys import SCOPES, KeyStore
from gencredits.cli._app import JsonOpt, app, console, print_json
from gencredits.cli._connection import connection
from gencredits.config import CONFIG_ENV, Settings, load_settings
from gencredits.storage.sql import engine as db

keys_app = typer.Typer(help="API keys of the HTTP service (stored as hashes only).")
app.add_typer(keys_app, name="keys", no_args_is_help=True)

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", help="A TOML or YAML config file (else $GENCREDITS_CONFIG)."),
]

FIRST_KEY_NAME = "first admin key"
err_console = Console(stderr=True)


def _store(settings: Settings) -> KeyStore:
    db.upgrade(settings.database_url)
    return KeyStore(db.make_engine(settings.database_url))


def _keys(ctx: typer.Context, config: Path | None) -> KeyStore:
    """The key store of the configured database, released when the command ends."""
    conn = connection(ctx)
    store = _store(load_settings(config, database_url=conn.database_url))
    conn.on_close(store.engine.dispose)
    return store


def bootstrap(settings: Settings) -> str | None:
    """Migrate the database; on the very first start make an admin key and return its secret."""
    store = _store(settings)
    try:
        if store.has_active_admin():
            return None
        _record, secret = store.create(FIRST_KEY_NAME, ["admin"])
        return secret
    finally:
        store.engine.dispose()


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Address to bind [default 127.0.0.1].")] = None,
    port: Annotated[int | None, typer.Option(help="Port [default 8000].")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes [default 1].", min=1, max=64)
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Run the HTTP service: migrates the database first; the first start prints an admin key."""
    import uvicorn

    database_url = connection(ctx).database_url
    settings = load_settings(
        config, host=host, port=port, workers=workers, database_url=database_url
    )
    # Workers are separate processes that read their settings from the environment.
    if config is not None:
        os.environ[CONFIG_ENV] = str(config.resolve())
    if database_url is not None:
        os.environ[db.ENV_DATABASE_URL] = database_url
    secret = bootstrap(settings)
    if secret is not None:
        err_console.print(
            "[bold]First start: an admin API key was created. It is shown this once; "
            "store it now.[/bold]",
            highlight=False,
        )
        console.print(f"GENCREDITS_API_KEY={secret}", highlight=False, soft_wrap=True)
    if settings.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="gencredits-metrics-")
    err_console.print(
        f"gencredits serving http://{settings.host}:{settings.port} "
        f"({settings.workers} worker(s), database {_redacted(settings.database_url)})",
        highlight=False,
    )
    uvicorn.run(
        "gencredits.api:create_app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        access_log=False,
        log_level="warning",
    )


def _redacted(url: str) -> str:
    import sqlalchemy as sa

    return sa.make_url(url).render_as_string(hide_password=True)


@keys_app.command("create")
def keys_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Who or what the key is for.")],
    scope: Annotated[
        list[str] | None,
        typer.Option("--scope", help=f"Repeatable: {', '.join(SCOPES)} [default read]."),
    ] = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a key; its secret is printed this once and never stored."""
    store = _keys(ctx, config)
    record, secret = store.create(name, scope or ["read"])
    if as_json:
        print_json({**record.to_dict(), "key": secret})
        return
    err_console.print(f"created {record.id} ({', '.join(record.scopes)}); shown once:")
    console.print(secret, highlight=False, soft_wrap=True)


@keys_app.command("list")
def keys_list(
    ctx: typer.Context,
    include_revoked: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List keys (id, name, prefix, scopes; never the secret)."""
    store = _keys(ctx, config)
    keys = store.list(include_revoked=include_revoked)
    if as_json:
        print_json({"items": [k.to_dict() for k in keys]})
        return
    table = Table("id", "name", "prefix", "scopes", "created", "revoked")
    for k in keys:
        table.add_row(
            k.id,
            k.name,
            k.display_prefix + "…",
            ", ".join(k.scopes),
            k.created_at.isoformat(timespec="seconds"),
            "" if k.revoked_at is None else k.revoked_at.isoformat(timespec="seconds"),
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(help="The key's id (key_...).")],
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Revoke a key: refused by every worker within api_key_cache_ttl_s (default 5 s)."""
    store = _keys(ctx, config)
    record = store.revoke(key_id)
    if as_json:
        print_json(record.to_dict())
        return
    console.print(f"revoked {record.id} ({record.name})", highlight=False)
