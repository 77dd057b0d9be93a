"""The ``catalog_versions`` table: the SQL side of the catalog-version port
(:class:`~gencredits.ledger.catalog_versions.CatalogVersionStore`).  Each call is one
short transaction; the unique (catalog, version) key settles two publishers racing."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from gencredits.ledger.catalog_versions import CatalogVersionRecord
from gencredits.storage.sql.engine import read_transaction
from gencredits.storage.sql.schema import catalog_versions

__all__ = ["SqlCatalogVersions"]


class SqlCatalogVersions:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def list_versions(
        self, catalog: str | None = None, *, with_text: bool = True
    ) -> list[CatalogVersionRecord]:
        t = catalog_versions
        columns = [c for c in t.c if with_text or c.name != "yaml"]
        query = sa.select(*columns).order_by(t.c.catalog, t.c.seq)
        if catalog is not None:
            query = query.where(t.c.catalog == catalog)
        with read_transaction(self.engine) as conn:
            return [_record(row, with_text) for row in conn.execute(query)]

    def insert_version(self, record: CatalogVersionRecord) -> CatalogVersionRecord | None:
        t = catalog_versions
        try:
            with self.engine.begin() as conn:
                seq = conn.execute(
                    t.insert()
                    .values(
                        catalog=record.catalog,
                        version=record.version,
                        content_hash=record.content_hash,
                        yaml=record.text,
                        effective_at=record.effective_at,
                        published_at=record.published_at,
                        published_by=record.published_by,
                    )
                    .returning(t.c.seq)
                ).scalar_one()
        except IntegrityError:
            return None
        stored = self.list_versions(record.catalog)
        return next(r for r in stored if r.seq == seq)


def _record(row: sa.Row[Any], with_text: bool) -> CatalogVersionRecord:
    return CatalogVersionRecord(
        catalog=row.catalog,
        version=row.version,
        content_hash=row.content_hash,
        text=row.yaml if with_text else "",
        effective_at=row.effective_at,
        published_at=row.published_at,
        published_by=row.published_by,
        seq=row.seq,
    )
