"""``gencredits.Client`` and ``AsyncClient``: the HTTP service from Python, typed.

Errors come back as the SAME exception classes the library raises
(:mod:`gencredits.errors`), chosen by the stable ``code`` (or, for a code this version
does not know, by the HTTP status's family), so code written against the embedded
library handles a remote service unchanged::

    with gencredits.Client("http://127.0.0.1:8000", api_key) as gc:
        q = gc.quote("kling/v2-1-pro", {"duration": 10}, catalog="api-pricing")
        q.total_credits

:class:`Client` implements :class:`~gencredits.billing.BillingAPI`, as the embedded
:class:`~gencredits.billing.Billing` does: the same method names and keyword arguments,
answering the same wire types (:mod:`gencredits.billing.views`).  ``AsyncClient`` has the
same methods as coroutines.  The earlier names ``wallet``, ``wallets``, ``grants``, ``job``
and ``jobs`` remain as aliases of ``get_wallet``, ``list_wallets``, ``list_grants``,
``get_job`` and ``list_jobs``.

Retries: a request that fails on the way (connection refused or reset, timeout) or
answers 502/503/504 is retried with exponential backoff, at most ``retries`` times.  A
POST is retried only under an ``Idempotency-Key``: the client makes one per call (or
uses the caller's) and sends the SAME key on every attempt, so a retried submission can
never hold credits twice.
"""

from __future__ import annotations

from ._clients import AsyncClient, Client, RetryPolicy
from ._errors import error_from_response

__all__ = ["AsyncClient", "Client", "RetryPolicy", "error_from_response"]
