"""A local OpenAI-compatible HTTP server: `/v1/chat/completions` and `/v1/responses`.

Answers in the shapes of OpenAI's public API reference (including `usage`), so the official SDK
can be pointed at it with `base_url`. Each request takes the next scripted `Reply` (then the
default one); the replies cover what a real endpoint or proxy does on a bad day:

    fake = FakeOpenAI()
    fake.script(rate_limited(retry_after=1), ok('{"summary": "..."}'))
    with fake.running() as base_url:          # "http://127.0.0.1:PORT/v1"
        ...
    assert len(fake.requests) == 2

Token counts are ceil(UTF-8 bytes / 4) unless a reply fixes them. Like the real API, an answer
longer than the request's output cap is cut to the cap with finish_reason "length"; `overlong`
plays a proxy that ignores the cap.
"""

import asyncio
import itertools
import math
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tests.fakes.server import serve

DEFAULT_TEXT = '{"summary": "A quiet week.", "actions": []}'
_ids = itertools.count(1)


@dataclass(frozen=True)
class Reply:
    kind: str = "ok"  # ok | rate_limited | server_error | overlong | malformed
    text: str = DEFAULT_TEXT
    delay_seconds: float = 0.0
    retry_after: str | None = None
    output_tokens: int | None = None  # reported output tokens; None = counted from the text


def ok(text: str = DEFAULT_TEXT, *, delay_seconds: float = 0.0) -> Reply:
    return Reply(text=text, delay_seconds=delay_seconds)


def slow(seconds: float, text: str = DEFAULT_TEXT) -> Reply:
    """Answers correctly, but only after `seconds` (longer than the client's timeout)."""
    return Reply(text=text, delay_seconds=seconds)


def rate_limited(retry_after: float | None = 1) -> Reply:
    return Reply(kind="rate_limited", retry_after=None if retry_after is None else f"{retry_after:g}")


def server_error() -> Reply:
    return Reply(kind="server_error")


def overlong(output_tokens: int, text: str | None = None) -> Reply:
    """Ignores the request's output cap: returns (and reports) `output_tokens` tokens."""
    return Reply(kind="overlong", text=text or "x" * (4 * output_tokens), output_tokens=output_tokens)


def malformed() -> Reply:
    """HTTP 200 whose body is not JSON (a proxy's HTML error page, a cut connection)."""
    return Reply(kind="malformed")


@dataclass
class SeenRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeOpenAI:
    api_key: str = "sk-test-fake-key-0123456789"
    default: Reply = field(default_factory=Reply)
    requests: list[SeenRequest] = field(default_factory=list)
    _script: deque[Reply] = field(default_factory=deque)

    def script(self, *replies: Reply) -> None:
        self._script.extend(replies)

    @contextmanager
    def running(self) -> Iterator[str]:
        with serve(self.app()) as base:
            yield f"{base}/v1"

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def chat(request: Request) -> Response:
            return await self._answer(request, _chat_body)

        @app.post("/v1/responses")
        async def responses(request: Request) -> Response:
            return await self._answer(request, _responses_body)

        return app

    async def _answer(self, request: Request, shape: Any) -> Response:
        body = await request.json()
        self.requests.append(SeenRequest(request.url.path, dict(request.headers), body))
        reply = self._script.popleft() if self._script else self.default
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(401, "invalid_request_error", "Incorrect API key provided.")
        if reply.delay_seconds and await _client_left(request, reply.delay_seconds):
            return Response(status_code=499)
        if reply.kind == "rate_limited":
            headers = {"retry-after": reply.retry_after} if reply.retry_after else {}
            return _error(429, "rate_limit_error", "Rate limit reached for requests.", headers)
        if reply.kind == "server_error":
            return _error(500, "server_error", "The server had an error while processing your request.")
        if reply.kind == "malformed":
            return Response('{"id": "chatcmpl-1", "choices": [', media_type="application/json")
        text, out_tokens, cut = reply.text, reply.output_tokens or _tokens(reply.text), False
        cap = next(
            (body[k] for k in ("max_completion_tokens", "max_tokens", "max_output_tokens") if body.get(k)),
            None,
        )
        if reply.kind == "ok" and cap is not None and out_tokens > cap:
            text, out_tokens, cut = text.encode()[: 4 * cap].decode(errors="ignore"), cap, True
        return JSONResponse(
            shape(body, text, _tokens(str(body.get("messages") or body.get("input"))), out_tokens, cut)
        )


async def _client_left(request: Request, seconds: float) -> bool:
    """Wait `seconds`, stopping early when the client hangs up (as a timed-out SDK call does), so
    the server can shut down without a request still sleeping in it."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await request.is_disconnected():
            return True
        await asyncio.sleep(0.02)
    return False


def _tokens(text: str) -> int:
    return math.ceil(len(text.encode()) / 4)


def _error(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": kind, "param": None, "code": None}}, status, headers=headers
    )


def _chat_body(body: dict, text: str, in_tokens: int, out_tokens: int, cut: bool) -> dict:
    return {
        "id": f"chatcmpl-fake{next(_ids)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "unknown"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "logprobs": None,
                "finish_reason": "length" if cut else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": in_tokens,
            "completion_tokens": out_tokens,
            "total_tokens": in_tokens + out_tokens,
        },
    }


def _responses_body(body: dict, text: str, in_tokens: int, out_tokens: int, cut: bool) -> dict:
    return {
        "id": f"resp_fake{next(_ids)}",
        "object": "response",
        "created_at": int(time.time()),
        "status": "incomplete" if cut else "completed",
        "incomplete_details": {"reason": "max_output_tokens"} if cut else None,
        "error": None,
        "model": body.get("model", "unknown"),
        "output": [
            {
                "type": "message",
                "id": f"msg_fake{next(_ids)}",
                "status": "incomplete" if cut else "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        ],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": in_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": out_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": in_tokens + out_tokens,
        },
    }
