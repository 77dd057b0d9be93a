"""A throw-away pgbouncer in transaction pooling mode in front of the test PostgreSQL.

Debian's pgbouncer (``make pgbouncer`` installs it).  Missing: the test is skipped, unless
``CI=true``, then it fails.  It runs with a generated configuration on a free port, as the
``postgres`` user when the tests run as root (pgbouncer refuses to run as root).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from tests.pg import PG_HOST, PG_PORT, PG_USER, ci

PGBOUNCER = os.environ.get("GENCREDITS_TEST_PGBOUNCER", "/usr/sbin/pgbouncer")
START_TIMEOUT_S = 10

CONFIG = """\
[databases]
* = host={host} port={port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {listen}
unix_socket_dir =
auth_type = trust
auth_file = {folder}/users.txt
pool_mode = transaction
max_client_conn = 500
default_pool_size = 20
logfile = {folder}/pgbouncer.log
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return False
    return True


@contextmanager
def pgbouncer() -> Iterator[int]:
    """A running pgbouncer (transaction mode) in front of the test server: its port."""
    if not (shutil.which(PGBOUNCER) or os.path.exists(PGBOUNCER)):
        message = f"pgbouncer is not installed at {PGBOUNCER} (make pgbouncer installs it)"
        if ci():
            pytest.fail(message + " (CI=true: a failure, not a skip)")
        pytest.skip(message)
    folder = Path(tempfile.mkdtemp(prefix="gct-pgbouncer-"))
    folder.chmod(0o755)
    port = _free_port()
    (folder / "users.txt").write_text(f'"{PG_USER}" ""\n')
    config = folder / "pgbouncer.ini"
    config.write_text(CONFIG.format(host=PG_HOST, port=PG_PORT, listen=port, folder=folder))
    args = [PGBOUNCER, "-q", str(config)]
    if os.geteuid() == 0:
        args[1:1] = ["-u", "postgres"]
        shutil.chown(folder, "postgres")
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _listening(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"pgbouncer did not start: {process.stderr.read()!r}")  # type: ignore[union-attr]
            time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


def pooled_url(port: int, name: str) -> str:
    return f"postgresql+psycopg://{PG_USER}@127.0.0.1:{port}/{name}"
