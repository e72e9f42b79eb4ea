"""Request id + one structured log line per request, as a pure ASGI middleware (no body buffering)."""

import re
import time
import uuid
from urllib.parse import parse_qs

import structlog
from prometheus_fastapi_instrumentator.routing import get_route_name
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger("app.request")

# A caller-supplied X-Request-ID is kept only when it is short and plain (it ends up in logs).
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def _symbol(scope: Scope) -> dict[str, str]:
    """`symbol` for requests about one (path or query `symbol`, or `symbols`), else nothing."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    found = scope.get("path_params", {}).get("symbol") or next(
        (query[name][0] for name in ("symbol", "symbols") if query.get(name)), None
    )
    return {"symbol": str(found).upper()[:200]} if found else {}


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        supplied = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = supplied if _REQUEST_ID.match(supplied) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            log.info(
                "request",
                method=scope["method"],
                # the same route template as the `handler` label of http_requests_total
                route=get_route_name(HTTPConnection(scope), should_include_root_path=False),
                path=scope["path"],
                status=status,
                latency_ms=round((time.perf_counter() - started) * 1000, 2),
                **_symbol(scope),
            )
            structlog.contextvars.unbind_contextvars("request_id")
