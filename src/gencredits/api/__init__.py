"""The HTTP service: ``create_app(settings)``; run it with ``gencredits serve``."""

from gencredits.api.app import create_app, create_app_from_env

__all__ = ["create_app", "create_app_from_env"]
