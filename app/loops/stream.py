"""The live stream behind `GET /api/v1/stream` (WebSocket): new snapshots and alert firings, as
JSON events, to every connected client.

Each client has a bounded queue (WS_QUEUE_SIZE events): a client that cannot keep up is
disconnected (close code 1013, "try again later") rather than letting its backlog grow the
service's memory. Every WS_PING_SEC the server sends `{"type": "ping"}`; a client that has sent
nothing back (a `{"type": "pong"}` will do) since two pings is considered dead and closed (4001).
"""

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from starlette.websockets import WebSocket

from app.metrics import Metrics

log = structlog.get_logger(__name__)

CLOSE_SLOW = 1013  # RFC 6455 "try again later"
CLOSE_DEAD = 4001  # application range: no answer to two pings
MISSED_PINGS = 2
CLOSE_WAIT_SECONDS = 1.0


@dataclass(eq=False)
class Subscriber:
    queue: asyncio.Queue[dict[str, Any]]
    overflowed: asyncio.Event = field(default_factory=asyncio.Event)


class StreamHub:
    def __init__(self, queue_size: int, metrics: Metrics) -> None:
        self.queue_size = queue_size
        self.metrics = metrics
        self.subscribers: set[Subscriber] = set()

    def publish(self, event: dict[str, Any]) -> None:
        """Hand an event to every client without waiting; a full queue marks its client slow."""
        for sub in self.subscribers:
            self._put(sub, event)

    @staticmethod
    def _put(sub: Subscriber, event: dict[str, Any]) -> None:
        try:
            sub.queue.put_nowait(event)
        except asyncio.QueueFull:
            sub.overflowed.set()

    async def serve(self, websocket: WebSocket, ping_seconds: float) -> None:
        """Run one accepted client's session until it leaves or is dropped."""
        sub = Subscriber(asyncio.Queue(self.queue_size))
        self.subscribers.add(sub)
        self.metrics.stream_clients.inc()
        unanswered = 0  # pings sent since the client last said anything

        async def send() -> None:
            while True:
                await websocket.send_json(await sub.queue.get())

        async def receive() -> None:
            nonlocal unanswered
            while (await websocket.receive())["type"] != "websocket.disconnect":
                unanswered = 0  # any message, text or binary, answers the pings

        async def ping() -> str:
            nonlocal unanswered
            while True:
                await asyncio.sleep(ping_seconds)
                if unanswered >= MISSED_PINGS:
                    return "dead"
                unanswered += 1
                # through the queue: a client that cannot take a ping in time is slow, not dead
                self._put(sub, {"type": "ping", "ts": datetime.now(UTC).isoformat()})

        async def overflow() -> str:
            await sub.overflowed.wait()
            return "slow"

        tasks = [asyncio.create_task(c) for c in (send(), receive(), ping(), overflow())]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            first = done.pop()
            reason = None if first.cancelled() or first.exception() else first.result()
            if reason is not None:  # we drop it; otherwise the client left or its socket failed
                self.metrics.stream_clients_dropped.labels(reason).inc()
                log.info("stream_client_dropped", reason=reason)
                # it may be gone already, or (slow) too jammed to take the close frame: then the
                # session just ends and the server drops the connection
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(CLOSE_WAIT_SECONDS):
                        await websocket.close(CLOSE_SLOW if reason == "slow" else CLOSE_DEAD, reason)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.subscribers.discard(sub)
            self.metrics.stream_clients.dec()
