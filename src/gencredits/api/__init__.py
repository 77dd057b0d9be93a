"""The HTTP service: ``create_app(settings)``; run it with ``gencredits serve``.

Imported lazily, so that ``gencredits.client`` (which shares the response schemas in
``gencredits.api.schemas``) does not pull in FastAPI, SQLAlchemy and the app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gencredits.api.app import create_app, create_app_from_env

__all__ = ["create_app", "create_app_from_env"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from gencredits.api import app

        return getattr(app, name)
    raise AttributeError(f"module 'gencredits.api' has no attribute {name!r}")
