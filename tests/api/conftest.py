"""The API test harness: the REAL service, started as a process, spoken to over HTTP.

``live`` is one running ``gencredits serve`` per backend (SQLite file in a temp folder, and
a fresh uniquely-named PostgreSQL database), shared by the tests of a session and torn down
at the end.  Its first start prints the admin key, which the harness reads from stdout, as
an operator would.  Tests make their own extra keys with :meth:`LiveService.make_key`.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from tests.pg import create_pg_database, drop_pg_database, pg_url

START_TIMEOUT_S = 60
#: Short enough for a revocation test, long enough to exercise the cache.
KEY_CACHE_TTL_S = "0.5"
CALLBACK_SECRET = "test-callback-secret"
STRIPE_SECRET = "whsec_test-stripe-secret"
SWEEP_INTERVAL_S = "1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveService:
    """One ``gencredits serve`` process (restartable, killable) and its database."""

    database_url: str
    workdir: Path
    env_extra: dict[str, str] = field(default_factory=dict)
    workers: int = 1
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    admin_key: str = ""
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GENCREDITS_")}
        env.update(
            GENCREDITS_DATABASE_URL=self.database_url,
            GENCREDITS_API_KEY_CACHE_TTL_S=KEY_CACHE_TTL_S,
            GENCREDITS_CALLBACK_SECRET=CALLBACK_SECRET,
            GENCREDITS_STRIPE_WEBHOOK_SECRET=STRIPE_SECRET,
            GENCREDITS_SWEEP_INTERVAL_S=SWEEP_INTERVAL_S,
            GENCREDITS_CATALOG_REFRESH_S="1",
            PYTHONUNBUFFERED="1",
        )
        env.update(self.env_extra)
        return env

    def start(self) -> None:
        self.port = self.port or free_port()
        self.starts += 1
        out = self.workdir / f"serve-{self.starts}.out"
        err = self.workdir / f"serve-{self.starts}.err"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gencredits.cli",
                    "serve",
                    "--port",
                    str(self.port),
                    "--workers",
                    str(self.workers),
                ],
                cwd=self.workdir,
                env=self.env(),
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,  # its own process group: kill() takes the workers too
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"service exited with {self.process.returncode}:\n{err.read_text()}"
                )
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        else:
            self.stop()
            raise RuntimeError(f"service not ready in {START_TIMEOUT_S}s:\n{err.read_text()}")
        for line in out.read_text().splitlines():
            if line.startswith("GENCREDITS_API_KEY="):
                self.admin_key = line.split("=", 1)[1].strip()

    def output(self) -> str:
        return (self.workdir / f"serve-{self.starts}.out").read_text()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None

    def kill(self) -> None:
        """SIGKILL, as a crash would (workers die with their parent's process group)."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self.process = None

    def make_key(self, *scopes: str, name: str = "test") -> str:
        """A new key via the real CLI (``gencredits keys create --json``)."""
        import json

        args = [sys.executable, "-m", "gencredits.cli", "keys", "create", name, "--json"]
        for s in scopes:
            args += ["--scope", s]
        done = subprocess.run(
            args, env=self.env(), cwd=self.workdir, capture_output=True, check=True
        )
        return str(json.loads(done.stdout)["key"])

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {} if key is None else {"Authorization": f"Bearer {key}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveService]:
    """The running service on each backend (shared by the session's API tests)."""
    workdir = tmp_path_factory.mktemp(f"live-{request.param}")
    if request.param == "sqlite":
        service = LiveService(f"sqlite:///{workdir / 'gencredits.db'}", workdir)
        service.start()
        yield service
        service.stop()
        return
    name = create_pg_database("gcapi")
    service = LiveService(pg_url(name), workdir)
    try:
        service.start()
        yield service
    finally:
        service.stop()
        drop_pg_database(name)


@pytest.fixture(scope="session")
def keys(live: LiveService) -> dict[str, str]:
    """One key per scope on ``live`` (admin is the first-start key)."""
    return {
        "admin": live.admin_key,
        "billing": live.make_key("billing", name="billing"),
        "read": live.make_key("read", name="read"),
        "publishable": live.make_key("publishable", name="publishable"),
    }


@pytest.fixture
def admin(live: LiveService) -> Iterator[httpx.Client]:
    with live.client(live.admin_key) as c:
        yield c
