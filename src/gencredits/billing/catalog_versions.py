"""Price changes: catalogs as published versions, switching at an instant.

:class:`VersionedCatalogs` is a :class:`~gencredits.pricing.CatalogSet` whose catalogs are
the versions active *now* (the injectable clock's now) among those stored in the database:
for each catalog, the one with the latest ``effective_at <= now``.  Every process reading
the same table therefore switches at the same instant with no coordination.  The resolved
set is cached until the next scheduled ``effective_at`` or ``refresh_s / 2`` after the
last read, whichever is first, so pricing costs one clock read, not a query.  Design and
guarantees: docs/catalog-versions.md.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Literal

from gencredits.clock import Clock, as_utc
from gencredits.errors import (
    CatalogVersionExists,
    CatalogVersionNotFound,
    InvalidRequest,
    QuoteExpired,
    UnknownCatalog,
    ValueNotOffered,
)
from gencredits.ledger.catalog_versions import CatalogVersionRecord, CatalogVersionStore
from gencredits.pricing import Catalog, CatalogSet, CompiledModel, parse_catalog

__all__ = ["QuotePolicy", "VersionedCatalogs", "catalogs_for_quote"]

QuotePolicy = Literal["honour", "refuse"]
#: The effective_at of seeded versions: active since the beginning of time.
SEED_AT = datetime(1970, 1, 1, tzinfo=UTC)
SEED_BY = "seed"


@dataclass(frozen=True, slots=True)
class _Resolved:
    active: CatalogSet
    fetched_at: datetime
    expires_at: datetime


class VersionedCatalogs(CatalogSet):
    """The catalogs active now; ``base`` seeds each catalog the database has no version of."""

    def __init__(
        self,
        base: CatalogSet,
        store: CatalogVersionStore,
        clock: Clock,
        *,
        refresh_s: int = 2,
        quote_validity_s: int = 900,
        quote_policy: QuotePolicy = "honour",
        seed: bool = True,
    ) -> None:
        super().__init__(list(base.values()))
        self.base = base
        self.store = store
        self.clock = clock
        self.refresh = timedelta(seconds=refresh_s)
        self.quote_validity = timedelta(seconds=quote_validity_s)
        self.quote_policy: QuotePolicy = quote_policy
        self._lock = threading.Lock()
        self._compiled: dict[str, Catalog] = {}  # content hash -> compiled catalog
        self._state: _Resolved | None = None
        self._seeded = not seed  # seeded on first use: the table may not exist yet

    # --- the active set, cached ---------------------------------------------------------

    def current(self) -> CatalogSet:
        """The catalogs active now (re-read from the store only when the cache expires)."""
        now = self.clock.now()
        state = self._state
        if state is None or not state.fetched_at <= now < state.expires_at:
            with self._lock:
                state = self._resolve(now)
                self._state = state
        return state.active

    def at(self, when: datetime) -> CatalogSet:
        """The catalogs active at ``when`` (read now, not cached: for audits)."""
        return self._resolve(as_utc(when)).active

    def _resolve(self, now: datetime) -> _Resolved:
        if not self._seeded:
            self.seed()
        records = self.store.list_versions(with_text=False)  # texts only of new versions
        active: dict[str, Catalog] = dict(self.base.items())
        for name, record in _active_records(records, now).items():
            active[name] = self.compiled(record)
        upcoming = [r.effective_at for r in records if r.effective_at > now]
        # Re-read twice per refresh_s: a version published refresh_s ahead is seen by every
        # worker before its instant even if its commit took up to refresh_s / 2.
        expires = min([now + self.refresh / 2, *upcoming])
        return _Resolved(CatalogSet(list(active.values())), now, expires)

    def invalidate(self) -> None:
        """Forget the cached set (the next lookup reads the store)."""
        self._state = None

    # --- CatalogSet, delegated to the active set ------------------------------------------

    def __getitem__(self, name: str) -> Catalog:
        return self.current()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.current())

    def __len__(self) -> int:
        return len(self.current())

    def __contains__(self, name: object) -> bool:
        return name in list(self.current())

    def active(self, name: str) -> Catalog | None:
        """The version of ``name`` pricing now, or ``None`` when it prices nothing yet."""
        return _loaded(self.current(), name)

    def resolve(self, model: str, catalog: str | None = None) -> tuple[Catalog, CompiledModel]:
        return self.current().resolve(model, catalog)

    def with_files(self, paths: list[Path]) -> CatalogSet:
        return self.current().with_files(paths)

    # --- versions ---------------------------------------------------------------------------

    def compiled(self, record: CatalogVersionRecord) -> Catalog:
        found = self._compiled.get(record.content_hash)
        loaded = _loaded(self.base, record.catalog)
        if found is None and loaded is not None and loaded.hash == record.content_hash:
            found = self._compiled[record.content_hash] = loaded  # already compiled
        if found is None:
            text = record.text or self._text(record)
            found = parse_catalog(text, f"{record.catalog}@{record.version}")
            self._compiled[record.content_hash] = found
        return found

    def _text(self, record: CatalogVersionRecord) -> str:
        stored = self.store.list_versions(record.catalog)
        return next(r.text for r in stored if r.seq == record.seq)

    def versions(self, catalog: str) -> list[CatalogVersionRecord]:
        """Every stored version of ``catalog``, oldest publication first (404 when none)."""
        if not self._seeded:
            self.seed()
        records = self.store.list_versions(catalog)
        if not records:
            raise UnknownCatalog(
                f"catalog: {catalog!r} has no published version",
                details={"field": "catalog", "value": catalog, "allowed": list(self.current())},
            )
        return records

    def version(self, catalog: str, version: str) -> CatalogVersionRecord:
        """One stored version, by its version text or its content hash."""
        for record in self.versions(catalog):
            if version in (record.version, record.content_hash):
                return record
        known = [r.version for r in self.versions(catalog)]
        raise CatalogVersionNotFound(
            f"version: {version!r} is not a version of catalog {catalog!r}; "
            f"versions: {', '.join(known)}",
            details={"field": "version", "value": version, "allowed": known},
        )

    def active_record(self, catalog: str, when: datetime | None = None) -> CatalogVersionRecord:
        """The stored version active at ``when`` (default: now)."""
        now = self.clock.now() if when is None else as_utc(when)
        found = _active_records(self.versions(catalog), now).get(catalog)
        if found is None:
            raise CatalogVersionNotFound(
                f"catalog: {catalog!r} has no version in effect at {now.isoformat()}",
                details={"field": "catalog", "value": catalog},
            )
        return found

    def by_hash(self, catalog: str, content_hash: str | None) -> Catalog | None:
        """The stored version of ``catalog`` with this content hash, compiled (or ``None``)."""
        if content_hash is None:
            return None
        for record in self.store.list_versions(catalog):
            if record.content_hash == content_hash:
                return self.compiled(record)
        return None

    # --- seeding and publishing -------------------------------------------------------------

    def seed(self) -> list[CatalogVersionRecord]:
        """Store each base catalog the database has no version of as its first version."""
        stored = {r.catalog for r in self.store.list_versions()}
        now = self.clock.now()
        seeded = []
        for catalog in self.base.values():
            if catalog.name in stored:
                continue
            text = _source_text(catalog)
            if text is None:
                continue
            record = CatalogVersionRecord(
                catalog.name, catalog.version, catalog.hash, text, SEED_AT, now, SEED_BY
            )
            inserted = self.store.insert_version(record)
            if inserted is not None:
                seeded.append(inserted)
        self._seeded = True
        self.invalidate()
        return seeded

    def check(self, text: str, source: str = "<catalog>") -> Catalog:
        """Validate a catalog file (every problem at once, as ``InvalidCatalog``)."""
        return parse_catalog(text, source)

    def publish(
        self,
        text: str,
        *,
        at: datetime | None = None,
        by: str = "operator",
        catalog: str | None = None,
        source: str = "<catalog>",
    ) -> tuple[CatalogVersionRecord, bool]:
        """Validate ``text`` and store it as a new version effective at ``at`` (default: at
        once, which is ``refresh_s`` from now: the soonest every worker has seen it).
        Answers the stored version and whether it is new (re-publishing the same version
        with the same content answers the stored one).  Nothing is stored on any error."""
        parsed = parse_catalog(text, source)
        if not self._seeded:
            self.seed()
        if catalog is not None and parsed.name != catalog:
            raise InvalidRequest(
                f"catalog: the file is catalog {parsed.name!r}, not {catalog!r}",
                details={"field": "catalog", "value": parsed.name, "allowed": [catalog]},
            )
        now = self.clock.now()
        effective = self._effective_at(now, at)
        existing = self._same_version(parsed)
        if existing is not None:
            return existing, False
        record = CatalogVersionRecord(
            parsed.name, parsed.version, parsed.hash, text, effective, now, by
        )
        stored = self.store.insert_version(record)
        if stored is None:  # another publisher won the race for this version
            found = self._same_version(parsed)
            assert found is not None
            return found, False
        self._compiled[stored.content_hash] = parsed
        return stored, True

    def _effective_at(self, now: datetime, at: datetime | None) -> datetime:
        earliest = now + self.refresh
        if at is None:
            return earliest
        when = as_utc(at)
        if when < earliest:
            raise ValueNotOffered.for_field(
                "effective_at",
                when.isoformat(),
                f"an instant at least {int(self.refresh.total_seconds())} s from now "
                f"(from {earliest.isoformat()}), so that every worker switches together",
            )
        return when

    def _same_version(self, parsed: Catalog) -> CatalogVersionRecord | None:
        for record in self.store.list_versions(parsed.name):
            if record.version != parsed.version:
                continue
            if record.content_hash != parsed.hash:
                raise CatalogVersionExists(
                    f"version: catalog {parsed.name!r} already has a version "
                    f"{parsed.version!r} with other content; give the new file a new version",
                    details={
                        "field": "version",
                        "value": parsed.version,
                        "content_hash": record.content_hash,
                    },
                )
            return record
        return None


def _active_records(
    records: Sequence[CatalogVersionRecord], now: datetime
) -> dict[str, CatalogVersionRecord]:
    """Per catalog, the version with the latest ``effective_at <= now`` (ties: published last)."""
    active: dict[str, CatalogVersionRecord] = {}
    for record in records:
        if record.effective_at > now:
            continue
        held = active.get(record.catalog)
        if held is None or (record.effective_at, record.seq) > (held.effective_at, held.seq):
            active[record.catalog] = record
    return active


def _loaded(catalogs: CatalogSet, name: str) -> Catalog | None:
    """``catalogs[name]``, or ``None`` (a CatalogSet refuses an unknown name with a 404 error,
    not a ``KeyError``, so ``Mapping.get`` does not apply)."""
    return catalogs[name] if name in list(catalogs) else None


def _source_text(catalog: Catalog) -> str | None:
    """The text a loaded catalog was parsed from (a bundled file, else its path)."""
    bundled = resources.files("gencredits") / "catalogs" / catalog.source
    # A bundled catalog was parsed from this very file (the bundled set is parsed once).
    if "/" not in catalog.source and _loaded(CatalogSet.bundled(), catalog.name) is catalog:
        return bundled.read_text(encoding="utf-8")
    try:
        text = Path(catalog.source).read_text(encoding="utf-8")
    except OSError:
        return None
    return text if parse_catalog(text, catalog.source).hash == catalog.hash else None


def catalogs_for_quote(
    catalogs: CatalogSet, quote_hash: str | None, catalog: str | None
) -> CatalogSet:
    """Where a submission is priced.  Without ``quote_hash``: the active catalogs (or the one
    named).  With it: the active catalog when its hash is that; else the quoted version, if
    the policy honours it and the submission is within the validity of the version's end;
    else :class:`QuoteExpired`."""
    if quote_hash is None:
        return catalogs if catalog is None else CatalogSet([catalogs[catalog]])
    names = [catalog] if catalog is not None else list(catalogs)
    for name in names:
        if catalogs[name].hash == quote_hash:
            return CatalogSet([catalogs[name]])
    if isinstance(catalogs, VersionedCatalogs):
        for name in names:
            for record in catalogs.store.list_versions(name):
                if record.content_hash == quote_hash:
                    return _quoted(catalogs, record)
    raise ValueNotOffered.for_field(
        "quote_hash", quote_hash, "the catalog_hash of a quote from this service"
    )


def _quoted(catalogs: VersionedCatalogs, record: CatalogVersionRecord) -> CatalogSet:
    now = catalogs.clock.now()
    later = [
        r.effective_at
        for r in catalogs.store.list_versions(record.catalog)
        if (r.effective_at, r.seq) > (record.effective_at, record.seq) and r.effective_at <= now
    ]
    active = catalogs[record.catalog]
    if not later:  # scheduled, never active yet: no quote can have been priced on it
        raise ValueNotOffered.for_field(
            "quote_hash", record.content_hash, f"the hash of {active.version}, the active version"
        )
    ended = min(later)
    validity = int(catalogs.quote_validity.total_seconds())
    if catalogs.quote_policy == "honour" and now < ended + catalogs.quote_validity:
        return CatalogSet([catalogs.compiled(record)])
    raise QuoteExpired(
        f"quote_hash: the quote was priced on {record.catalog} {record.version}, replaced by "
        f"{active.version} at {ended.isoformat()}; "
        + (
            f"quotes are honoured for {validity} s after a change"
            if catalogs.quote_policy == "honour"
            else "this service does not honour quotes across a price change"
        )
        + "; ask for a new quote",
        details={
            "field": "quote_hash",
            "catalog": record.catalog,
            "quote_version": record.version,
            "quote_hash": record.content_hash,
            "active_version": active.version,
            "active_hash": active.hash,
            "replaced_at": ended.isoformat(),
            "validity_s": validity,
            "policy": catalogs.quote_policy,
        },
    )
