"""Signing outbound webhooks: HMAC-SHA256 over ``<timestamp>.<body>``.

Header (docs/webhooks.md shows a receiver's check)::

    Gencredits-Signature: t=1767225600,v1=<hex HMAC-SHA256(secret, "1767225600." + body)>

``t`` is the Unix time of the attempt (each attempt signs again); a receiver refuses a
timestamp outside its tolerance (replays) and compares signatures in constant time.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["SIGNATURE_HEADER", "sign", "verify"]

SIGNATURE_HEADER = "Gencredits-Signature"
EVENT_ID_HEADER = "Gencredits-Event-Id"
EVENT_TYPE_HEADER = "Gencredits-Event-Type"
ATTEMPT_HEADER = "Gencredits-Delivery-Attempt"


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp`` (Unix seconds)."""
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def verify(secret: str, header: str, body: bytes, *, now: int, tolerance_s: int = 300) -> bool:
    """True when ``header`` signs ``body`` with ``secret`` within ``tolerance_s`` of ``now``."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(parts.get("v1", ""), _mac(secret, timestamp, body))
