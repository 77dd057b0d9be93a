"""Two services (each its own engine, store and cache) on one PostgreSQL database switch
to a published catalog version at the same instant, with no word between them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from tests.billing.test_catalog_versions import RAISED
from tests.conftest import LEDGER_TEST_CATALOG

from gencredits.billing import Billing
from gencredits.billing.catalog_versions import VersionedCatalogs
from gencredits.clock import ManualClock
from gencredits.pricing import CatalogSet, load_catalog, quote
from gencredits.storage.sql.catalog_versions import SqlCatalogVersions
from gencredits.storage.sql.engine import make_engine, upgrade
from gencredits.storage.sql.store import SqlStore


@pytest.fixture
def two_services(
    postgres_url: str, clock: ManualClock, tmp_path: Path
) -> Iterator[tuple[Billing, Billing]]:
    path = tmp_path / "test-ledger.yaml"
    path.write_text(LEDGER_TEST_CATALOG, encoding="utf-8")
    base = CatalogSet([load_catalog(path)])
    upgrade(postgres_url)
    made = []
    for _ in range(2):
        engine = make_engine(postgres_url)
        catalogs = VersionedCatalogs(base, SqlCatalogVersions(engine), clock, refresh_s=5)
        made.append(Billing(SqlStore(engine), catalogs, clock))
    try:
        yield made[0], made[1]
    finally:
        for b in made:
            b.close()


def test_two_services_switch_to_a_published_version_at_the_same_instant(
    two_services: tuple[Billing, Billing], clock: ManualClock
) -> None:
    a, b = two_services
    a.create_wallet("w1")
    a.grant("w1", 1000, kind="purchase", idempotency_key="fund")
    # Both warm their caches on the old prices (one seeds version 1, the other finds it).
    assert [quote(s.catalogs, "img").total_credits for s in (a, b)] == [10, 10]
    assert isinstance(a.catalogs, VersionedCatalogs)
    change = clock.now() + timedelta(seconds=30)
    record, _ = a.catalogs.publish(RAISED, at=change, by="ops")
    clock.set(change - timedelta(microseconds=1))
    before = [quote(s.catalogs, "img") for s in (a, b)]
    assert {(q.total_credits, q.catalog_version) for q in before} == {(10, "1")}
    clock.set(change)
    after = [quote(s.catalogs, "img") for s in (a, b)]
    assert {(q.total_credits, q.catalog_version, q.catalog_hash) for q in after} == {
        (15, "2", record.content_hash)
    }
    job = b.submit("w1", "img", idempotency_key="j")  # the other service holds the new price
    assert (job.credits_quoted, job.catalog_version) == (15, "2")
    assert isinstance(b.catalogs, VersionedCatalogs)
    assert [r.version for r in b.catalogs.versions("test-ledger")] == ["1", "2"]
