"""Price changes from a terminal: ``catalog diff``, ``catalog publish``, ``catalog versions``.

Publishing and listing work on the database itself (``--database-url``; with ``--url`` they
are refused rather than written to a local file); diff compares files,
bundled catalogs and stored versions (``NAME@VERSION``).  Design: docs/catalog-versions.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from gencredits.billing.catalog_versions import VersionedCatalogs
from gencredits.cli._app import JsonOpt, console, fail, print_json
from gencredits.cli._connection import connection, database_errors
from gencredits.cli.pricing import catalog_app
from gencredits.clock import SystemClock
from gencredits.config import load_settings
from gencredits.errors import GencreditsError, InvalidRequest
from gencredits.ledger.catalog_versions import CatalogVersionRecord
from gencredits.pricing import Catalog, CatalogSet, load_catalog
from gencredits.pricing.diff import CatalogDiff, diff_catalogs

OldArg = Annotated[
    str,
    typer.Argument(
        metavar="OLD", help="A catalog file, a bundled catalog's name, or NAME@VERSION (stored)."
    ),
]
NewArg = Annotated[str, typer.Argument(metavar="NEW", help="The same, for the new prices.")]
AllOpt = Annotated[
    bool, typer.Option("--all", help="Every combination, not only those whose price moved.")
]


@contextmanager
def _versions(ctx: typer.Context) -> Iterator[VersionedCatalogs]:
    """The stored versions of the local database (migrated first), seeded from the bundled
    catalogs and the configured catalog files."""
    from gencredits.storage.sql import engine as db
    from gencredits.storage.sql.catalog_versions import SqlCatalogVersions

    conn = connection(ctx)
    if conn.url:  # never a silent write to a local file while the user means the service
        raise InvalidRequest.for_field(
            "GENCREDITS_URL",
            conn.url,
            "stored catalog versions are published and read on the database itself: unset "
            "GENCREDITS_URL and set GENCREDITS_DATABASE_URL (--database-url) to the "
            "service's database, or use POST /v1/catalogs/{name}/versions",
        )
    settings = load_settings(None, database_url=conn.database_url)
    with database_errors(settings.database_url):
        db.upgrade(settings.database_url)
        engine = db.make_engine(settings.database_url)
        try:
            base = CatalogSet.bundled().with_files(list(settings.catalog_files))
            yield VersionedCatalogs(
                base,
                SqlCatalogVersions(engine),
                SystemClock(),
                refresh_s=settings.catalog_refresh_s,
            )
        finally:
            engine.dispose()


def _side(ctx: typer.Context, selector: str) -> Catalog:
    if Path(selector).is_file() or selector.endswith((".yaml", ".yml")):
        return load_catalog(selector)
    name, at, version = selector.partition("@")
    if not at:
        return CatalogSet.bundled()[name]
    with _versions(ctx) as versions:
        record = (
            versions.active_record(name) if version == "active" else versions.version(name, version)
        )
        return versions.compiled(record)


@catalog_app.command("diff")
def catalog_diff(
    ctx: typer.Context, old: OldArg, new: NewArg, show_all: AllOpt = False, as_json: JsonOpt = False
) -> None:
    """Per model and setting, the old and new price of one generation and the change in
    percent, before publishing."""
    try:
        result = diff_catalogs(_side(ctx, old), _side(ctx, new))
    except GencreditsError as exc:
        fail(exc, as_json=as_json)
    if as_json:
        print_json(result.to_dict(all_rows=show_all))
        return
    _print_diff(result, show_all)


def _print_diff(result: CatalogDiff, show_all: bool) -> None:
    rows = result.rows if show_all else result.changes
    title = f"{result.catalog}: {result.old_version} -> {result.new_version}"
    table = Table(title=title)
    for col in ("model", "mode", "route", "settings", "old", "new", "change", "per second"):
        table.add_column(col, overflow="fold")
    for r in rows:
        settings = ", ".join(f"{k}={v}" for k, v in r.settings.items()) or "defaults"
        rates = ""
        if r.old_rate_per_second is not None or r.new_rate_per_second is not None:
            rates = f"{r.old_rate_per_second} -> {r.new_rate_per_second}"
        table.add_row(
            r.model,
            r.mode,
            r.route,
            settings,
            "-" if r.old_credits is None else str(r.old_credits),
            "-" if r.new_credits is None else str(r.new_credits),
            "" if r.change_percent is None else f"{r.change_percent:+}%",
            rates,
            style=None if r.changed else "dim",
        )
    console.print(table)
    for label, models in (("added", result.added_models), ("removed", result.removed_models)):
        if models:
            console.print(f"models {label}: {', '.join(models)}", markup=False)
    console.print(f"{len(result.changes)} of {len(result.rows)} combinations change price")


def _parse_at(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise InvalidRequest.for_field(
            "--at", text, "an ISO 8601 instant with its zone, e.g. 2026-12-01T00:00:00Z"
        )
    return when


def _hash(versions: VersionedCatalogs, name: str) -> str:
    active = versions.active(name)
    return "" if active is None else active.hash


def _record_dict(record: CatalogVersionRecord, active: str) -> dict[str, object]:
    return {
        "catalog": record.catalog,
        "version": record.version,
        "content_hash": record.content_hash,
        "effective_at": record.effective_at.isoformat(),
        "published_at": record.published_at.isoformat(),
        "published_by": record.published_by,
        "active": record.content_hash == active,
    }


@catalog_app.command("publish")
def catalog_publish(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(metavar="FILE", help="The catalog file to publish.")],
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            metavar="TIME",
            help="When it takes effect (ISO 8601 with zone); default: at once, which is "
            "catalog_refresh_s from now, so that every worker switches together.",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Validate a catalog file and store it as a new version of its catalog."""
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        fail(
            InvalidRequest.for_field("FILE", str(file), f"a readable file ({exc.strerror})"),
            as_json=as_json,
        )
    try:
        when = _parse_at(at)
        with _versions(ctx) as versions:
            record, created = versions.publish(text, at=when, by="cli", source=str(file))
            active = _hash(versions, record.catalog)
    except GencreditsError as exc:
        fail(exc, as_json=as_json)
    answer = {**_record_dict(record, active), "created": created}
    if as_json:
        print_json(answer)
        return
    verb = "published" if created else "already published"
    console.print(
        f"{record.catalog} {record.version} {verb}: effective at {record.effective_at.isoformat()}"
        f" ({record.content_hash})",
        markup=False,
        highlight=False,
    )


@catalog_app.command("versions")
def catalog_versions(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The catalog's name.")],
    as_json: JsonOpt = False,
) -> None:
    """Every stored version of a catalog, oldest first, and which one prices now."""
    try:
        with _versions(ctx) as versions:
            records = versions.versions(name)
            active = _hash(versions, name)
    except GencreditsError as exc:
        fail(exc, as_json=as_json)
    rows = [_record_dict(r, active) for r in records]
    if as_json:
        print_json({"catalog": name, "items": rows})
        return
    table = Table(title=f"Versions of {name}")
    for col in ("version", "effective at", "published at", "by", "active", "hash"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            str(r["version"]),
            str(r["effective_at"]),
            str(r["published_at"]),
            str(r["published_by"]),
            "yes" if r["active"] else "",
            str(r["content_hash"]),
        )
    console.print(table)
