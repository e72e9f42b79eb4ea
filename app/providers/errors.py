"""Provider failures (`ProviderError`) and their HTTP answers: the caller learns whether to retry
(503 + Retry-After) or to fix configuration (the variable is named)."""

import math

from fastapi import HTTPException, status

ENV = {"polygon": "POLYGON_API_KEY", "tradier": "TRADIER_ACCESS_TOKEN (or TRADIER_API_KEY)"}
DEFAULT_RETRY_AFTER_SECONDS = 5


class ProviderError(Exception):
    """A provider call failed. `kind` is one of http, timeout, network, breaker_open, throttled."""

    def __init__(
        self,
        provider: str,
        kind: str,
        message: str,
        *,
        status_code: int | None = None,
        body: str = "",
        retry_after: float | None = None,
        maybe_delivered: bool = False,
        retryable: bool = False,
    ) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.kind = kind
        self.status_code = status_code
        self.body = body
        self.retry_after = retry_after
        # True when the provider may have acted on the request (timeout after sending, 5xx):
        # the caller must reconcile instead of resending a non-idempotent call.
        self.maybe_delivered = maybe_delivered
        self.retryable = retryable


def not_configured(variable: str) -> HTTPException:
    return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=f"{variable} is not set")


def retry_after_header(seconds: float | None) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(seconds or DEFAULT_RETRY_AFTER_SECONDS)))}


def as_http(exc: ProviderError) -> HTTPException:
    name = exc.provider.capitalize()
    if exc.kind == "config":
        return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=str(exc).split(": ", 1)[-1])
    if exc.status_code in (401, 403):
        return HTTPException(
            status.HTTP_502_BAD_GATEWAY,
            detail=f"{name} refused our credentials (HTTP {exc.status_code}): "
            f"check {ENV.get(exc.provider, 'the key')}",
        )
    if exc.status_code is not None and 400 <= exc.status_code < 500 and exc.status_code != 429:
        return HTTPException(
            status.HTTP_502_BAD_GATEWAY, detail=f"{name} refused the request (HTTP {exc.status_code})"
        )
    reason = {
        "breaker_open": "circuit breaker open after repeated failures",
        "throttled": "request budget for this minute used up (client-side rate limit)",
        "timeout": "timed out",
        "network": "unreachable",
    }.get(exc.kind, f"answered HTTP {exc.status_code}" if exc.status_code else "failed")
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        detail=f"{name} unavailable: {reason}; retry later",
        headers=retry_after_header(exc.retry_after),
    )
