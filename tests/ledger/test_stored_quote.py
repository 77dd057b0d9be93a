"""A job's stored quote keeps what an audit and a dispute need (the priced inputs, the lines,
the figures no column gives) and reads back as the quote it was priced on, key for key; rows
written before (the whole quote) read as they are."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa

from gencredits.billing import Billing
from gencredits.clock import ManualClock
from gencredits.pricing import CatalogSet, quote
from gencredits.storage.sql import schema as t
from gencredits.storage.sql.quotes import FORMAT, JobFacts, full_quote, stored_quote


def _facts(q: dict[str, Any]) -> JobFacts:
    catalog = (q["catalog"], q["catalog_version"], q["catalog_hash"])
    return JobFacts(q["model"], q["generations"], q["total_credits"], catalog)


def _bundled_quotes() -> list[dict[str, Any]]:
    catalogs = CatalogSet.bundled()
    found = []
    for name in catalogs:
        catalog = catalogs[name]
        for model in catalog.models:
            for generations in (1, 3):
                try:
                    found.append(quote(catalog, model, {}, generations).to_dict())
                except Exception:  # a model that needs a setting, or one generation only
                    continue
    return found


def test_every_bundled_quote_reads_back_key_for_key_and_smaller() -> None:
    quotes = _bundled_quotes()
    assert len(quotes) > 50
    sizes = [0, 0]
    for q in quotes:
        kept = stored_quote(q, _facts(q))
        assert kept is not None and kept["v"] == FORMAT
        assert not {"catalog_hash", "total_credits", "breakdown"} & set(kept)
        back = full_quote(json.loads(json.dumps(kept)), _facts(q))
        assert back == q and list(back or {}) == list(q)
        sizes[0], sizes[1] = sizes[0] + len(json.dumps(q)), sizes[1] + len(json.dumps(kept))
    assert sizes[1] < sizes[0] * 0.55  # about half (bench/RESULTS.md)


def test_a_field_the_row_does_not_give_is_kept_as_it_is() -> None:
    q = quote(None, "kling/v2-1-pro", {"duration": 10}, 2).to_dict()
    odd = {**q, "unit_credits": q["unit_credits"] + 1, "catalog_hash": "sha256:other"}
    odd["breakdown"] = [{**odd["breakdown"][0], "credits": "1"}, *odd["breakdown"][1:]]
    kept = stored_quote(odd, _facts(q))
    assert kept is not None
    assert (kept["unit_credits"], kept["catalog_hash"]) == (odd["unit_credits"], "sha256:other")
    assert kept["breakdown"] == odd["breakdown"]  # a line of another shape: kept whole
    assert full_quote(kept, _facts(q)) == odd
    assert stored_quote({"unit_credits": 5}, _facts(q)) == {"unit_credits": 5}  # other shape
    assert full_quote({"unit_credits": 5}, _facts(q)) == {"unit_credits": 5}


@pytest.mark.parametrize("store_kind", ["sqlite", "postgresql"])
def test_the_jobs_table_keeps_the_slim_form_and_old_rows_still_read(
    store: Any, clock: ManualClock
) -> None:
    billing = Billing(store, CatalogSet.bundled(), clock)
    billing.create_wallet("w")
    billing.grant("w", 10_000, kind="purchase", idempotency_key="g")
    job = billing.submit(
        "w", "kling/v2-1-pro", {"duration": 10}, generations=2, idempotency_key="j"
    )
    priced = quote(None, "kling/v2-1-pro", {"duration": 10}, 2).to_dict()
    with store.engine.begin() as c:
        raw = c.execute(sa.select(t.jobs.c.quote).where(t.jobs.c.id == job.id)).scalar_one()
    assert raw["v"] == FORMAT and "catalog_hash" not in raw and "breakdown" not in raw
    assert raw["params"] == priced["params"] and raw["mode"] == priced["mode"]
    assert billing.get_job(job.id).quote == priced == job.quote
    # A row written before the slim form (the whole quote, lines with ``credits`` only).
    old = {**priced, "breakdown": [{"kind": "base", "label": "old", "credits": "84"}]}
    with store.engine.begin() as c:
        c.execute(t.jobs.update().where(t.jobs.c.id == job.id).values(quote=old))
    shown = billing.get_job(job.id).quote
    assert shown is not None and shown["catalog_hash"] == priced["catalog_hash"]
    assert shown["breakdown"] == [{**old["breakdown"][0], "line_credits": "84"}]
