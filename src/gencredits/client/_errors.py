"""An error answer as the library's own exception: same class, code, message and details."""

from __future__ import annotations

import httpx

from gencredits import errors

__all__ = ["error_from_response", "unreachable"]

_FAMILY_BY_STATUS: dict[int, type[errors.GencreditsError]] = {
    401: errors.AuthenticationFailed,
    402: errors.InsufficientCredits,
    403: errors.PermissionDenied,
    404: errors.NotFound,
    409: errors.Conflict,
    422: errors.InvalidRequest,
    429: errors.RateLimited,
    400: errors.InvalidRequest,
    503: errors.Unavailable,
}


def _by_code() -> dict[str, type[errors.GencreditsError]]:
    found: dict[str, type[errors.GencreditsError]] = {}
    pending: list[type[errors.GencreditsError]] = [errors.GencreditsError]
    while pending:
        cls = pending.pop()
        found.setdefault(cls.code, cls)
        pending.extend(cls.__subclasses__())
    return found


def error_from_response(response: httpx.Response) -> errors.GencreditsError:
    """The library exception for an error response (same class, code, message, details)."""
    try:
        body = response.json()["error"]
        code, message, details = str(body["code"]), str(body["message"]), dict(body["details"])
    except (ValueError, KeyError, TypeError):
        code, message, details = "internal", f"HTTP {response.status_code}", {}
        if response.status_code in _FAMILY_BY_STATUS:
            code = _FAMILY_BY_STATUS[response.status_code].code
    cls = _by_code().get(code) or _FAMILY_BY_STATUS.get(response.status_code)
    cls = cls or errors.GencreditsError
    # Built without the subclass constructors (which compose their own messages): the
    # server's message and details are kept exactly.
    error = cls.__new__(cls)
    errors.GencreditsError.__init__(error, message, details=details, code=code)
    if isinstance(error, errors.InsufficientCredits):
        error.required = int(details.get("required", 0))
        error.available = int(details.get("available", 0))
        error.shortfall = int(details.get("shortfall", error.required - error.available))
    if isinstance(error, errors.RateLimited):
        error.retry_after_s = int(details.get("retry_after_s", 1))
    if isinstance(error, errors.InvalidCatalog):
        error.source = str(details.get("source", ""))
        error.problems = [str(p) for p in details.get("problems", [])]
    error.http_status = response.status_code  # type: ignore[misc]
    return error


def unreachable(exc: httpx.TransportError, url: str) -> errors.Unavailable:
    """The service could not be reached (after the retries): ``Unavailable``, retryable."""
    return errors.Unavailable(
        f"service: cannot reach {url} ({exc.__class__.__name__}: {exc})",
        details={"retryable": True},
    )
