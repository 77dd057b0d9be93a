"""Signing support staff in: an API key given once, kept in an HttpOnly cookie.

- The session cookie holds the key itself (``HttpOnly``, ``SameSite=Strict``, ``Secure``
  over HTTPS, ``Path=/``), so every request is checked against the key store as an API
  call is: a revoked key signs its sessions out within the key cache's time, on every
  worker, with no session table.  Only keys with the ``billing`` scope (or ``admin``) may
  sign in: a publishable or read key cannot open the wallet pages.  The operator pages
  (``web/operator.py``) also need ``admin``; a billing key gets a 403 page saying so.
- Forms that change anything carry a CSRF token (double submit): a random ``gc_csrf``
  cookie, ``SameSite=Strict`` and ``HttpOnly``, and the same value in a hidden field,
  compared in constant time.  The sign-in form has one too (no login CSRF).
- Signed-in pages answer ``Cache-Control: no-store``.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import Depends, Request
from starlette.responses import Response

from gencredits.api.auth import admit
from gencredits.api.keys import ApiKey
from gencredits.errors import AuthenticationFailed, GencreditsError, PermissionDenied

__all__ = [
    "CSRF_COOKIE",
    "SESSION_COOKIE",
    "SignInRequired",
    "Staff",
    "StaffDep",
    "check_csrf",
    "csrf_for",
    "end_session",
    "keep_csrf",
    "sign_in",
    "start_session",
]

SESSION_COOKIE = "gc_session"
CSRF_COOKIE = "gc_csrf"
#: The scope a key needs to open the wallet pages.
STAFF_SCOPE = "billing"
SESSION_MAX_AGE_S = 8 * 3600
CSRF_TOKEN_LEN = 43  # secrets.token_urlsafe(32)


class SignInRequired(Exception):
    """No valid session: the page answers with the sign-in form (``reason`` says why)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Staff:
    """The signed-in key of a request."""

    def __init__(self, key: ApiKey) -> None:
        self.key = key


async def sign_in(request: Request, secret: str) -> ApiKey:
    """The key for ``secret`` if it may open the wallet pages (else the API's own error)."""
    return await admit(request.app.state.authenticator, secret.strip(), STAFF_SCOPE)


async def current_staff(request: Request) -> Staff:
    secret = request.cookies.get(SESSION_COOKIE)
    if not secret:
        raise SignInRequired("Sign in with a billing or admin API key.")
    try:
        key = await sign_in(request, secret)
    except (AuthenticationFailed, PermissionDenied) as exc:
        raise SignInRequired(f"Your session ended: {exc.message}") from None
    except GencreditsError as exc:  # rate limit, database down: say so, keep the cookie
        raise SignInRequired(exc.message) from None
    return Staff(key)


StaffDep = Annotated[Staff, Depends(current_staff)]


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def start_session(request: Request, response: Response, secret: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        secret.strip(),
        max_age=SESSION_MAX_AGE_S,
        path="/",
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )


def end_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")


def csrf_for(request: Request) -> str:
    """This browser's CSRF token for a form's hidden field (a new one if it has none);
    :func:`keep_csrf` sets it on the answer."""
    token = request.cookies.get(CSRF_COOKIE)
    return token if token and len(token) == CSRF_TOKEN_LEN else secrets.token_urlsafe(32)


def keep_csrf(request: Request, response: Response, token: str) -> None:
    if request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(
            CSRF_COOKIE, token, path="/", httponly=True, samesite="strict", secure=_secure(request)
        )


def check_csrf(request: Request, sent: str | None) -> bool:
    """True when the form's token is this browser's cookie token."""
    cookie = request.cookies.get(CSRF_COOKIE)
    return bool(cookie and sent) and hmac.compare_digest(str(cookie), str(sent))
