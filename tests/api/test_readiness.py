"""/readyz is 503 (with the reason) until the database is migrated to this version's head;
/healthz answers regardless.  In-process: this is about the probe, not the transport."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from gencredits import db
from gencredits.api import create_app
from gencredits.config import load_settings


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
