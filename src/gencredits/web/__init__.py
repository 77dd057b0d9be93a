"""The web front: pages for people, served by the service's own FastAPI app.

- ``/``: the cost estimator (browsers; ``Accept: application/json`` still gets the index of
  the documentation), pricing through ``POST /v1/quotes`` with a publishable key.
- ``/widget.js`` and ``/widget/example``: the embeddable ``<gencredits-cost>`` element.
- ``/staff/...``: wallet pages for support staff, signed in with a billing or admin key;
  operator pages (``/staff/reports``, ``/staff/catalogs``, ``/staff/plans``) with an admin key.

Server-rendered Jinja2 templates with a little progressive JavaScript; every asset is
served by the service itself (``/static``), nothing is built with Node.js.
"""

from gencredits.web.install import install_web

__all__ = ["install_web"]
