"""The live stream over a real WebSocket (uvicorn on loopback, the `websockets` client): bearer
auth before the handshake, events, pings, a dead client dropped, a slow client dropped instead of
growing the service's memory."""

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from app.main import create_app
from app.metrics import Metrics
from tests.api.factories import AUTH
from tests.loops.helpers import sample, serve_here, until
from tests.providers.helpers import fast_settings

PING = 0.2


@pytest.fixture
async def server(request, pg_url: str) -> AsyncIterator[tuple[str, object]]:
    """The service; `@pytest.mark.parametrize("server", [seconds], indirect=True)` sets WS_PING_SEC."""
    ping = getattr(request, "param", PING)
    app = create_app(fast_settings(database_url=pg_url, ws_ping_sec=ping, ws_queue_size=4))
    async with serve_here(app) as base:
        yield f"{base}/api/v1/stream", app


@asynccontextmanager
async def client(url: str, **options) -> AsyncIterator[ClientConnection]:
    async with connect(url, additional_headers=AUTH, open_timeout=10, **options) as ws:
        yield ws


async def next_event(ws: ClientConnection, kind: str) -> dict:
    async with asyncio.timeout(10):
        while (event := json.loads(await ws.recv()))["type"] != kind:
            pass
    return event


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong-token-0123456789"}], ids=["none", "wrong"]
)
async def test_the_handshake_needs_the_bearer_token(server, headers) -> None:
    url, _ = server
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, additional_headers=headers, open_timeout=10):
            pass
    assert refused.value.response.status_code == 403, "a client without the token must not be accepted"


async def test_events_and_pings_reach_a_client(server) -> None:
    url, app = server
    async with client(url) as ws:
        ping = await next_event(ws, "ping")
        assert "ts" in ping
        app.state.stream.publish({"type": "alert", "message": "SPY price 101 crossed above 100"})
        assert (await next_event(ws, "alert"))["message"] == "SPY price 101 crossed above 100"
    hub, metrics = app.state.stream, app.state.metrics
    await until(lambda: not hub.subscribers, "the session of a client that left to end")
    assert sample(metrics, "trader_stream_clients") == 0
    assert not sample(metrics, "trader_stream_clients_dropped_total", reason="dead"), (
        "a client that left is not dead"
    )


async def test_a_client_that_stops_answering_pings_is_dropped(server) -> None:
    url, app = server
    metrics: Metrics = app.state.metrics

    async def answering(ws: ClientConnection) -> None:
        async for raw in ws:
            if json.loads(raw)["type"] == "ping":
                await ws.send(json.dumps({"type": "pong"}))

    async with client(url) as dead, client(url) as alive:
        keep_alive = asyncio.create_task(answering(alive))
        try:
            pings = 0
            with pytest.raises(ConnectionClosed) as closed:
                async with asyncio.timeout(10):
                    async for raw in dead:  # reads, never answers
                        pings += json.loads(raw)["type"] == "ping"
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001, (
                f"closed with {closed.value}"
            )
            assert pings == 2, f"dropped after {pings} unanswered pings; the rule is two"
            await asyncio.sleep(3 * PING)
            assert not keep_alive.done(), "a client answering its pings was dropped too"
        finally:
            keep_alive.cancel()
            await asyncio.gather(keep_alive, return_exceptions=True)
    assert sample(metrics, "trader_stream_clients_dropped_total", reason="dead") == 1


@pytest.mark.parametrize("server", [60.0], indirect=True)  # no ping: it would find the client dead first
async def test_a_slow_client_is_dropped_not_buffered(server) -> None:
    url, app = server
    metrics: Metrics = app.state.metrics
    hub = app.state.stream
    host, port = url.removeprefix("ws://").split("/", 1)[0].split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a phone on a bad link
    sock.connect((host, int(port)))
    event = {"type": "snapshot", "payload": {"blob": "x" * 100_000}}
    async with client(url, sock=sock, max_queue=1, compression=None, close_timeout=0.5):  # never reads
        await until(lambda: len(hub.subscribers) == 1, "the client to subscribe")
        for _ in range(2000):
            if sample(metrics, "trader_stream_clients_dropped_total", reason="slow"):
                break
            hub.publish(event)
            assert all(s.queue.qsize() <= hub.queue_size for s in hub.subscribers)
            await asyncio.sleep(0.002)
        assert sample(metrics, "trader_stream_clients_dropped_total", reason="slow") == 1, (
            "a client that stopped reading was never dropped"
        )
        await until(lambda: not hub.subscribers, "the slow client's session to end")
    assert sample(metrics, "trader_stream_clients") == 0
