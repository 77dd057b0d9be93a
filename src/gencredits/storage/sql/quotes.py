"""A job's quote as the jobs table keeps it: what an audit and a dispute need, nothing the
row already says.

The quote a job was priced on (:meth:`gencredits.pricing.Quote.to_dict`) repeats the row:
its model, generations, total (``credits_quoted``) and catalog name, version and hash are
columns of the job, its unit price is the total over the generations, and each breakdown
line carries its credits twice (``line_credits`` and the deprecated ``credits``).  The
stored form (``"v": 2``) keeps the priced inputs the row does not have (mode, route, the
params as priced), the itemised lines as ``[kind, label, credits]`` and the few figures the
job's answer shows that no column gives (``base_credits``; ``model_name``,
``provider_cost`` and ``provider_currency`` when they are not the model id and null); any
field that differs from what the row gives is kept as it is.  :func:`full_quote` rebuilds
the same mapping, keys in the same order, so every reader (the job's answer, usage reports,
completions) sees what was priced.  A quote of another shape, and every row written before
this form (no ``"v"``), is stored and read as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["FORMAT", "JobFacts", "full_quote", "stored_quote"]

#: The stored form's marker: ``{"v": FORMAT, ...}``.
FORMAT = 2
#: The keys of a priced quote, in order (:meth:`gencredits.pricing.Quote.to_dict`).
_KEYS = (
    "model",
    "model_name",
    "mode",
    "route",
    "params",
    "generations",
    "base_credits",
    "unit_credits",
    "total_credits",
    "breakdown",
    "catalog",
    "catalog_version",
    "catalog_hash",
    "provider_cost",
    "provider_currency",
)
_LINE = ("kind", "label", "line_credits", "credits")


class JobFacts:
    """What the job's row says that its quote repeats."""

    __slots__ = ("values",)

    def __init__(
        self,
        model: str | None,
        generations: int,
        quoted: int,
        catalog: tuple[str | None, str | None, str | None],
    ) -> None:
        unit = quoted // generations if generations and quoted % generations == 0 else None
        self.values: dict[str, Any] = {
            "model": model,
            "model_name": model,
            "generations": generations,
            "unit_credits": unit,
            "total_credits": quoted,
            "catalog": catalog[0],
            "catalog_version": catalog[1],
            "catalog_hash": catalog[2],
            "provider_cost": None,
            "provider_currency": None,
        }


def _lines(breakdown: Any) -> list[list[str]] | None:
    """The breakdown as ``[kind, label, credits]`` rows, or ``None`` when a line is not of
    the priced shape (then the breakdown is kept as it is)."""
    if not isinstance(breakdown, list):
        return None
    rows = []
    for line in breakdown:
        if not isinstance(line, dict) or tuple(line) != _LINE:
            return None
        text = line["line_credits"]
        if not isinstance(text, str) or line["credits"] != text:
            return None
        rows.append([line["kind"], line["label"], text])
    return rows


def stored_quote(quote: Mapping[str, Any] | None, facts: JobFacts) -> dict[str, Any] | None:
    """What the jobs table keeps of ``quote`` (see the module)."""
    if quote is None:
        return None
    if tuple(quote) != _KEYS:
        return dict(quote)
    derived = facts.values
    kept: dict[str, Any] = {"v": FORMAT}
    for key, value in quote.items():
        if key == "breakdown" and (lines := _lines(value)) is not None:
            kept["lines"] = lines
        elif key not in derived or type(derived[key]) is not type(value) or derived[key] != value:
            kept[key] = value
    return kept


def full_quote(stored: Mapping[str, Any] | None, facts: JobFacts) -> Mapping[str, Any] | None:
    """The quote the job was priced on, from what :func:`stored_quote` kept."""
    if stored is None or stored.get("v") != FORMAT:
        return stored
    derived = facts.values
    quote: dict[str, Any] = {}
    for key in _KEYS:
        if key in stored:
            quote[key] = stored[key]
        elif key == "breakdown":
            quote[key] = [
                {"kind": kind, "label": label, "line_credits": text, "credits": text}
                for kind, label, text in stored["lines"]
            ]
        else:
            quote[key] = derived[key]
    return quote
