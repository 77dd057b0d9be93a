"""Pricing commands: models, quote, compare, project, catalog check/list, demo."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from gencredits.cli._app import JsonOpt, SetOpt, app, console, fail, parse_pairs, print_json
from gencredits.errors import GencreditsError, InvalidCatalog, InvalidRequest
from gencredits.pricing import (
    Catalog,
    CatalogSet,
    Quote,
    capacity,
    compare,
    load_catalog,
    load_project,
    project_quote,
    quote,
)
from gencredits.pricing.catalog import CompiledModel

catalog_app = typer.Typer(help="Check and list price catalogs.", no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")

CatalogOpt = Annotated[
    str | None,
    typer.Option(
        "--catalog",
        "-c",
        metavar="CATALOG",
        help="A bundled catalog's name, or a path to a catalog file.",
    ),
]
GenerationsOpt = Annotated[
    int, typer.Option("--generations", "-n", metavar="N", help="Number of generations.", min=1)
]


def _catalogs(selector: str | None) -> CatalogSet:
    bundled = CatalogSet.bundled()
    if selector is not None and (selector.endswith((".yaml", ".yml")) or "/" in selector):
        return CatalogSet([load_catalog(Path(selector))])
    return bundled


def _one_catalog(selector: str | None) -> Catalog | None:
    if selector is None:
        return None
    catalogs = _catalogs(selector)
    if len(catalogs) == 1 and selector not in catalogs:
        return next(iter(catalogs.values()))
    return catalogs[selector]


def _balance(value: int | None) -> int | None:
    if value is not None and value < 0:
        raise InvalidRequest.for_field("--balance", value, "a whole number of credits >= 0")
    return value


def _fmt(n: int) -> str:
    return f"{n:,}"


def _offered(m: CompiledModel, mode: str | None = None) -> dict[str, Any]:
    """What the model accepts as data: lists, or None where it takes no such setting."""
    compiled = m.mode(mode)
    a = compiled.accepts
    options = [
        label
        for label, on in (
            ("start frame", "start_frame" in a.switches),
            ("end frame", "end_frame" in a.switches),
            ("audio", "audio" in a.switches),
            ("preview", "preview" in a.switches),
            ("prompt enhancer", "prompt_enhancer" in a.switches),
        )
        if on
    ]
    for name, (low, high) in a.counts.items():
        options.append(f"{name.replace('_', ' ')} {low}-{high}" if low else f"{name} <= {high}")
    return {
        "durations": list(a.durations) if a.durations else None,
        "duration_text": a.duration_text or None,
        "resolutions": list(a.resolutions) if a.resolutions else None,
        "aspect_ratios": list(a.aspect_ratios) if a.aspect_ratios else None,
        "options": options,
    }


def _listed(values: list[str] | None) -> str:
    return ", ".join(values or ()) or "-"


@app.command("models")
def models_cmd(
    catalog: CatalogOpt = None,
    mode: Annotated[
        str | None, typer.Option(metavar="MODE", help="Only models that offer this mode.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List models with their base credits, durations, resolutions and options."""
    catalogs = _catalogs(catalog)
    chosen = [_one_catalog(catalog)] if catalog else list(catalogs.values())
    rows: list[dict[str, Any]] = []
    for cat in chosen:
        assert cat is not None
        for m in cat:
            if mode is not None and mode not in m.modes:
                continue
            the_mode = mode or m.default_mode
            compiled = m.mode(the_mode)
            rows.append(
                {
                    "catalog": cat.name,
                    "model": m.id,
                    "name": m.name,
                    "modes": list(m.modes),
                    "base_credits": compiled.base_credits[m.default_route],
                    "routes": list(m.routes),
                    **_offered(m, the_mode),
                }
            )
    if mode is not None and not rows:
        raise InvalidRequest.for_field(
            "--mode", mode, "no model offers it; modes: see `gencredits models --json`"
        )
    if as_json:
        print_json({"models": rows})
        return
    table = Table(title="Models" + (f" offering {mode}" if mode else ""))
    columns = ("catalog", "model", "name", "base", "modes", "durations", "resolutions", "options")
    for col in columns:
        table.add_column(col, justify="right" if col == "base" else "left", overflow="fold")
    for r in rows:
        table.add_row(
            r["catalog"],
            r["model"],
            r["name"],
            _fmt(r["base_credits"]),
            ", ".join(r["modes"]),
            r["duration_text"] or "-",
            _listed(r["resolutions"]),
            _listed(r["options"]),
        )
    console.print(table)


def _quote_table(q: Quote) -> Table:
    table = Table(
        title=f"{q.model_name} ({q.mode}, route {q.route}) - {q.catalog} {q.catalog_version}",
        show_footer=True,
    )
    table.add_column("step", footer="total credits")
    table.add_column("credits", justify="right", footer=_fmt(q.total_credits))
    for line in q.breakdown:
        table.add_row(f"{line.kind}: {line.label}", f"{line.credits.normalize():,f}")
    return table


@app.command("quote")
def quote_cmd(
    model: Annotated[str, typer.Argument(metavar="MODEL", help="Model id, display name or alias.")],
    catalog: CatalogOpt = None,
    settings: SetOpt = None,
    generations: GenerationsOpt = 1,
    balance: Annotated[
        int | None,
        typer.Option(
            metavar="CREDITS", help="Say whether this balance affords it, and how many times."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """The exact credits for MODEL with these settings: base, per generation, total."""
    try:
        source: Catalog | CatalogSet = _one_catalog(catalog) or _catalogs(None)
        q = quote(source, model, parse_pairs("--set", settings), generations)
        balance = _balance(balance)
    except GencreditsError as exc:
        fail(exc, as_json=as_json)
    if as_json:
        out = q.to_dict()
        if balance is not None:
            out["balance"] = balance
            out["affordable"] = balance >= q.total_credits
            out["capacity"] = capacity(balance, q)
        print_json(out)
        return
    console.print(_quote_table(q))
    console.print(
        f"base {_fmt(q.base_credits)} (minimum duration, default settings) - "
        f"{_fmt(q.unit_credits)} per generation - [bold]{_fmt(q.total_credits)} total[/bold]"
    )
    if balance is not None:
        times = capacity(balance, q)
        verdict = "[green]affordable[/green]" if times else "[red]not affordable[/red]"
        console.print(f"balance {_fmt(balance)}: {verdict}; buys {_fmt(times)} of these")


@app.command("compare")
def compare_cmd(
    catalog: CatalogOpt = None,
    settings: SetOpt = None,
    generations: GenerationsOpt = 1,
    limit: Annotated[
        int, typer.Option(metavar="N", help="Show at most this many rows.", min=1)
    ] = 50,
    as_json: JsonOpt = False,
) -> None:
    """The same request across every model that can serve it, cheapest first."""
    try:
        params = parse_pairs("--set", settings)
        chosen = [_one_catalog(catalog)] if catalog else list(_catalogs(None).values())
        quotes: list[Quote] = []
        skipped: dict[str, str] = {}
        for cat in chosen:
            assert cat is not None
            result = compare(cat, params, generations)
            quotes.extend(result.quotes)
            skipped.update({f"{cat.name}/{k}": v for k, v in result.skipped.items()})
        quotes.sort(key=lambda q: (q.total_credits, q.model_name.casefold()))
    except GencreditsError as exc:
        fail(exc, as_json=as_json)
    if as_json:
        print_json({"quotes": [q.to_dict() for q in quotes[:limit]], "skipped": skipped})
        return
    table = Table(title=f"{len(quotes)} models can serve this request (cheapest first)")
    for col in ("catalog", "model", "mode", "per generation", "total"):
        table.add_column(col, justify="right" if col in ("per generation", "total") else "left")
    for q in quotes[:limit]:
        table.add_row(q.catalog, q.model_name, q.mode, _fmt(q.unit_credits), _fmt(q.total_credits))
    console.print(table)
    if skipped:
        console.print(f"{len(skipped)} models cannot serve it (see --json for why).")


@app.command("project")
def project_cmd(
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="A project file: YAML or JSON with steps.")
    ],
    catalog: CatalogOpt = None,
    balance: Annotated[
        int | None, typer.Option(metavar="CREDITS", help="How many such projects it buys.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Total and itemise a project: a list of steps (model, settings, count)."""
    try:
        named, steps = load_project(file)
        selector = catalog or named
        source: Catalog | CatalogSet = _one_catalog(selector) or _catalogs(None)
        pq = project_quote(source, steps)
        balance = _balance(balance)
    except GencreditsError as exc:
        fail(exc, as_json=as_json)
    if as_json:
        out = pq.to_dict()
        if balance is not None:
            out["balance"] = balance
            out["affordable"] = balance >= pq.total_credits
            out["capacity"] = capacity(balance, pq.total_credits)
        print_json(out)
        return
    table = Table(title=f"Project {file.name}", show_footer=True)
    table.add_column("step", footer="total credits")
    table.add_column("model")
    table.add_column("count", justify="right")
    table.add_column("each", justify="right")
    table.add_column("credits", justify="right", footer=_fmt(pq.total_credits))
    for i, (step, q, total) in enumerate(pq.steps):
        table.add_row(
            step.label or str(i + 1),
            q.model_name,
            str(step.count),
            _fmt(q.total_credits),
            _fmt(total),
        )
    console.print(table)
    if balance is not None:
        console.print(
            f"balance {_fmt(balance)} buys {_fmt(capacity(balance, pq.total_credits))} of these"
        )


@catalog_app.command("check")
def catalog_check(
    files: Annotated[
        list[Path], typer.Argument(metavar="FILE...", help="Catalog files to validate.")
    ],
    as_json: JsonOpt = False,
) -> None:
    """Validate catalog files; report every problem, each with its path in the file."""
    results: list[dict[str, Any]] = []
    bad = 0
    for f in files:
        try:
            c = load_catalog(f)
            results.append(
                {
                    "file": str(f),
                    "ok": True,
                    "catalog": c.name,
                    "version": c.version,
                    "hash": c.hash,
                    "models": len(c.models),
                }
            )
        except InvalidCatalog as exc:
            bad += 1
            results.append({"file": str(f), "ok": False, "problems": exc.problems})
    if as_json:
        print_json({"results": results})
    else:
        for r in results:
            if r["ok"]:
                console.print(
                    f"[green]ok[/green] {r['file']}: {r['catalog']} {r['version']}, "
                    f"{r['models']} models, {r['hash']}"
                )
            else:
                console.print(f"[red]invalid[/red] {r['file']}: {len(r['problems'])} problem(s)")
                for p in r["problems"]:
                    console.print(f"  {p}", markup=False, highlight=False)
    if bad:
        raise SystemExit(2)


@catalog_app.command("list")
def catalog_list(as_json: JsonOpt = False) -> None:
    """The bundled catalogs with their versions and content hashes."""
    rows = [
        {
            "catalog": c.name,
            "version": c.version,
            "title": c.spec.title,
            "models": len(c.models),
            "hash": c.hash,
        }
        for c in CatalogSet.bundled().values()
    ]
    if as_json:
        print_json({"catalogs": rows})
        return
    table = Table(title="Bundled catalogs")
    for col in ("catalog", "version", "models", "title", "hash"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            str(r["catalog"]),
            str(r["version"]),
            str(r["models"]),
            str(r["title"] or ""),
            str(r["hash"]),
        )
    console.print(table)


@app.command("demo")
def demo() -> None:
    """Show the bundled catalogs and a sample of quotes."""
    catalog_list(as_json=False)
    samples: list[tuple[str, str, dict[str, object], int]] = [
        ("api-pricing", "sora-2-pro-text-to-video", {"resolution": "1080p", "duration": 12}, 1),
        ("api-pricing", "nano-banana-2", {"resolution": "4K"}, 1),
    ]
    for name, model, params, gens in samples:
        if name in CatalogSet.bundled():
            console.print(_quote_table(quote(name, model, params, gens)))
