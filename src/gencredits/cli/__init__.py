"""The ``gencredits`` command line: a stable contract that others script against.

Each area registers its commands on :data:`app` from its own module; errors from the
library become one-line messages on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

from gencredits.cli import alerts as _alerts  # noqa: F401  (registers commands)
from gencredits.cli import audit as _audit  # noqa: F401  (registers commands)
from gencredits.cli import catalog_versions as _catalog_versions  # noqa: F401  (registers commands)
from gencredits.cli import ledger as _ledger  # noqa: F401  (registers commands)
from gencredits.cli import payments as _payments  # noqa: F401  (registers commands)
from gencredits.cli import plans as _plans  # noqa: F401  (registers commands)
from gencredits.cli import pricing as _pricing  # noqa: F401  (registers commands)
from gencredits.cli import relay as _relay  # noqa: F401  (registers commands)
from gencredits.cli import reports as _reports  # noqa: F401  (registers commands)
from gencredits.cli import service as _service  # noqa: F401  (registers commands)
from gencredits.cli import teams as _teams  # noqa: F401  (registers commands)
from gencredits.cli._app import app, main

__all__ = ["app", "main"]
