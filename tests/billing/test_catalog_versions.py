"""Price changes: published catalog versions, switching at an instant, quotes across a change.

On the memory store with the manual clock; the same on PostgreSQL with two services in
tests/billing/test_catalog_versions_pg.py."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import LEDGER_TEST_CATALOG

from gencredits.billing import Billing
from gencredits.billing.catalog_versions import VersionedCatalogs
from gencredits.clock import ManualClock
from gencredits.errors import (
    CatalogVersionExists,
    InvalidCatalog,
    QuoteExpired,
    ValueNotOffered,
)
from gencredits.ledger import MemoryStore
from gencredits.ledger.catalog_versions import CatalogVersionRecord, MemoryCatalogVersions
from gencredits.pricing import CatalogSet, load_catalog, quote

#: The test catalog with every price up by half: img 10 -> 15, vid 100/200 -> 150/300.
RAISED = (
    LEDGER_TEST_CATALOG.replace('version: "1"', 'version: "2"')
    .replace("flat: 10", "flat: 15")
    .replace("{5: 100, 10: 200}", "{5: 150, 10: 300}")
)


class CountingStore(MemoryCatalogVersions):
    """The memory store, counting reads (the hot path must not read per quote)."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def list_versions(
        self, catalog: str | None = None, *, with_text: bool = True
    ) -> list[CatalogVersionRecord]:
        self.reads += 1
        return super().list_versions(catalog, with_text=with_text)


@pytest.fixture
def base(tmp_path: Path) -> CatalogSet:
    path = tmp_path / "test-ledger.yaml"
    path.write_text(LEDGER_TEST_CATALOG, encoding="utf-8")
    return CatalogSet([load_catalog(path)])


def versioned(base: CatalogSet, clock: ManualClock, **options: Any) -> VersionedCatalogs:
    return VersionedCatalogs(base, CountingStore(), clock, **options)


def funded(b: Billing, wallet: str = "w1") -> None:
    b.create_wallet(wallet)
    b.grant(wallet, 10_000, kind="purchase", idempotency_key=f"fund-{wallet}")


def test_the_loaded_file_seeds_the_first_version_and_stays_readable(
    base: CatalogSet, clock: ManualClock
) -> None:
    catalogs = versioned(base, clock)
    (first,) = catalogs.versions("test-ledger")
    assert (first.version, first.content_hash, first.published_by) == (
        "1",
        base["test-ledger"].hash,
        "seed",
    )
    assert first.text == LEDGER_TEST_CATALOG
    again = VersionedCatalogs(base, catalogs.store, clock)  # a second process: no second seed
    assert len(again.versions("test-ledger")) == 1


def test_a_price_rise_scheduled_while_jobs_are_pending(
    base: CatalogSet, clock: ManualClock
) -> None:
    catalogs = versioned(base, clock)
    b = Billing(MemoryStore(), catalogs, clock)
    funded(b)
    img = b.submit("w1", "img", idempotency_key="a")
    vid = b.submit("w1", "vid", {"duration": 10}, idempotency_key="v")
    change = clock.now() + timedelta(hours=1)
    record, new = catalogs.publish(RAISED, at=change, by="ops")
    assert new and record.effective_at == change
    clock.set(change - timedelta(seconds=1))  # still the old price up to the instant
    before = b.submit("w1", "img", idempotency_key="b")
    assert (before.credits_quoted, before.catalog_version) == (10, "1")
    clock.set(change)
    after = b.submit("w1", "img", idempotency_key="c")
    assert (after.credits_quoted, after.catalog_version, after.catalog_hash) == (
        15,
        "2",
        record.content_hash,
    )
    # The held jobs settle on the price they were quoted, even when reporting actuals.
    assert b.complete(img.id, idempotency_key="ca").credits_used == 10
    done = b.complete(vid.id, actual_params={"duration": 5}, idempotency_key="cv")
    assert done.credits_used == 100  # v1's 5 s price; v2 would say 150
    assert quote(catalogs, "img").total_credits == 15


def test_a_quote_straddling_the_change_is_honoured_within_its_validity(
    base: CatalogSet, clock: ManualClock
) -> None:
    catalogs = versioned(base, clock, quote_validity_s=600)
    b = Billing(MemoryStore(), catalogs, clock)
    funded(b)
    quoted = quote(catalogs, "img")
    record, _ = catalogs.publish(RAISED)  # at once: refresh_s from now
    clock.set(record.effective_at + timedelta(seconds=599))
    job = b.submit("w1", "img", quote_hash=quoted.catalog_hash, idempotency_key="q1")
    assert (job.credits_quoted, job.catalog_version) == (10, "1")
    fresh = b.submit("w1", "img", quote_hash=record.content_hash, idempotency_key="q2")
    assert fresh.credits_quoted == 15
    clock.set(record.effective_at + timedelta(seconds=600))
    with pytest.raises(QuoteExpired) as caught:
        b.submit("w1", "img", quote_hash=quoted.catalog_hash, idempotency_key="q3")
    assert caught.value.http_status == 409
    assert caught.value.details == {
        "field": "quote_hash",
        "catalog": "test-ledger",
        "quote_version": "1",
        "quote_hash": quoted.catalog_hash,
        "active_version": "2",
        "active_hash": record.content_hash,
        "replaced_at": record.effective_at.isoformat(),
        "validity_s": 600,
        "policy": "honour",
    }
    assert b.get_wallet("w1").available == 10_000 - 10 - 15  # the refusal held nothing


def test_the_refuse_policy_refuses_a_quote_of_a_replaced_version_at_once(
    base: CatalogSet, clock: ManualClock
) -> None:
    catalogs = versioned(base, clock, quote_policy="refuse")
    b = Billing(MemoryStore(), catalogs, clock)
    funded(b)
    old_hash = quote(catalogs, "img").catalog_hash
    assert b.submit("w1", "img", quote_hash=old_hash, idempotency_key="k0").credits_quoted == 10
    record, _ = catalogs.publish(RAISED)
    clock.set(record.effective_at)
    with pytest.raises(QuoteExpired, match="does not honour quotes"):
        b.submit("w1", "img", quote_hash=old_hash, idempotency_key="k1")
    with pytest.raises(ValueNotOffered, match="quote_hash"):
        b.submit("w1", "img", quote_hash="sha256:" + "0" * 64, idempotency_key="k2")


def test_publishing_validates_first_and_stores_nothing_on_error(
    base: CatalogSet, clock: ManualClock
) -> None:
    catalogs = versioned(base, clock)
    broken = RAISED.replace("flat: 15", "flat: -1").replace("rows: {5: 150", "rows: {7: 150")
    with pytest.raises(InvalidCatalog) as caught:
        catalogs.publish(broken)
    problems = caught.value.details["problems"]
    assert len(problems) >= 2 and any("models.img" in p for p in problems)
    assert any("models.vid" in p for p in problems)
    with pytest.raises(ValueNotOffered, match="effective_at"):
        catalogs.publish(RAISED, at=clock.now() - timedelta(seconds=1))
    assert [r.version for r in catalogs.versions("test-ledger")] == ["1"]
    first, new = catalogs.publish(RAISED)
    same, again = catalogs.publish(RAISED)
    assert new and not again and same == first
    with pytest.raises(CatalogVersionExists):
        catalogs.publish(RAISED.replace("flat: 15", "flat: 16"))
    assert [r.version for r in catalogs.versions("test-ledger")] == ["1", "2"]


def test_quotes_read_the_store_only_when_the_cache_expires(
    base: CatalogSet, clock: ManualClock
) -> None:
    catalogs = versioned(base, clock, refresh_s=5)
    store = catalogs.store
    assert isinstance(store, CountingStore)
    record, _ = catalogs.publish(RAISED, at=clock.now() + timedelta(seconds=60))
    reads = store.reads
    prices = {quote(catalogs, "img").total_credits for _ in range(200)}
    assert prices == {10} and store.reads == reads + 1
    clock.set(record.effective_at - timedelta(microseconds=1))
    assert quote(catalogs, "img").total_credits == 10
    clock.set(record.effective_at)
    assert quote(catalogs, "img").total_credits == 15
    # Old versions stay readable for audits.
    assert quote(catalogs.at(record.effective_at - timedelta(seconds=1)), "img").total_credits == 10
