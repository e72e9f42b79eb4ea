"""A local Discord webhook endpoint (`POST /api/webhooks/{id}/{token}`).

Like Discord: 204 on success, 400 with error code 50035 for content over 2000 characters or an
empty message, and 429 with a JSON body `{"message", "retry_after" (seconds), "global"}` plus
`Retry-After`/`X-RateLimit-*` headers when `rate_limit_next(n, retry_after)` is armed.
"""

import math
import threading

from fastapi import FastAPI, Request
from starlette.responses import JSONResponse, Response

from tests.fakes.faults import FaultQueue, apply_before

WEBHOOK_PATH = "/api/webhooks/1234567890/fake-webhook-token"


class FakeDiscord:
    def __init__(self) -> None:
        self.messages: list[dict] = []
        self.attempts = 0
        self.faults = FaultQueue()
        self._lock = threading.Lock()
        self._limited = 0
        self._retry_after = 0.0
        self.app = self._build()

    def webhook_url(self, base_url: str) -> str:
        return f"{base_url}{WEBHOOK_PATH}"

    def rate_limit_next(self, times: int, retry_after: float) -> None:
        with self._lock:
            self._limited, self._retry_after = times, retry_after

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.post("/api/webhooks/{webhook_id}/{token}")
        async def execute(webhook_id: str, token: str, request: Request) -> Response:
            self.attempts += 1
            if f"/api/webhooks/{webhook_id}/{token}" != WEBHOOK_PATH:
                return JSONResponse({"message": "Unknown Webhook", "code": 10015}, 404)
            faulted = await apply_before(self.faults.take("POST", request.url.path))
            if faulted is not None:
                return faulted
            with self._lock:
                if self._limited > 0:
                    self._limited -= 1
                    return JSONResponse(
                        {
                            "message": "You are being rate limited.",
                            "retry_after": self._retry_after,
                            "global": False,
                        },
                        429,
                        headers={
                            "Retry-After": str(math.ceil(self._retry_after)),
                            "X-RateLimit-Limit": "5",
                            "X-RateLimit-Remaining": "0",
                            "X-RateLimit-Reset-After": str(self._retry_after),
                            "X-RateLimit-Scope": "shared",
                        },
                    )
            body = await request.json()
            content = body.get("content") or ""
            # Like Discord: a message needs content or embeds (Alertmanager sends only embeds).
            if (not content and not body.get("embeds")) or len(content) > 2000:
                return JSONResponse(
                    {
                        "message": "Invalid Form Body",
                        "code": 50035,
                        "errors": {
                            "content": {
                                "_errors": [
                                    {
                                        "code": "BASE_TYPE_MAX_LENGTH",
                                        "message": "Must be 2000 or fewer in length.",
                                    }
                                ]
                            }
                        },
                    },
                    400,
                )
            self.messages.append(body)
            return Response(status_code=204)

        return app
