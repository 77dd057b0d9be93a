"""/readyz is 503 (with the reason) until the database is migrated to this version's head;
/healthz answers regardless.  In-process: this is about the probe, not the transport."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from gencredits.api import create_app
from gencredits.config import load_settings
from gencredits.storage.sql import engine as db


async def probe(app: object, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        return await c.get(path)


@pytest.mark.anyio
async def test_readyz_waits_for_the_migrations(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    app = create_app(load_settings(database_url=url, sweep_interval_s=0))
    assert (await probe(app, "/healthz")).status_code == 200
    before = await probe(app, "/readyz")
    assert before.status_code == 503
    error = before.json()["error"]
    assert error["code"] == "unavailable" and "run the migrations" in error["message"]
    db.upgrade(url)
    after = await probe(app, "/readyz")
    assert after.status_code == 200 and after.json()["checks"] == {"database": "current"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_an_unreachable_database_is_a_503_not_a_500(tmp_path: Path) -> None:
    """A key that is not in the memory cache needs the database; when it is gone, every
    route (the quote fast path included) answers 503 unavailable, which clients retry."""
    url = f"sqlite:///{tmp_path / 'gone' / 'x.db'}"
    db.upgrade(url)
    app = create_app(load_settings(database_url=url, sweep_interval_s=0))
    (tmp_path / "gone" / "x.db").unlink()
    (tmp_path / "gone").rmdir()
    (tmp_path / "gone").write_text("not a folder any more")  # the file cannot be reopened
    app.state.services.engine.dispose()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        headers = {"Authorization": "Bearer gck_anything"}
        quoted = await c.post("/v1/quotes", json={"model": "veo3"}, headers=headers)
        listed = await c.get("/v1/catalogs", headers=headers)
    for response in (quoted, listed):
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "unavailable"
