"""Scripted misbehaviour for the fakes: the next matching requests answer with a given status,
headers and body, optionally after a delay (a slow answer the client should time out on)."""

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import JSONResponse, Response


@dataclass
class Fault:
    status: int = 500
    body: Any = None  # JSON-serialisable; None sends an empty body
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering
    method: str | None = None  # only requests with this method
    path_contains: str = ""  # only requests whose path contains this
    after: bool = False  # let the request take effect first, then answer with the fault

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and self.path_contains in path

    def response(self) -> Response:
        if self.status == 0:  # only a delay: the caller builds the normal answer
            raise ValueError("delay-only fault has no response")
        if self.body is None:
            return Response(status_code=self.status, headers=self.headers)
        return JSONResponse(self.body, status_code=self.status, headers=self.headers)


class FaultQueue:
    """Faults are consumed in order, one per matching request."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault, times: int = 1) -> None:
        with self._lock:
            self._faults.extend([fault] * times)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, method: str, path: str, *, after: bool = False) -> Fault | None:
        """The first queued fault for this request; `after` selects faults that answer only once
        the request took effect (the handler asks for those itself)."""
        with self._lock:
            for i, fault in enumerate(self._faults):
                if fault.after == after and fault.matches(method, path):
                    return self._faults.pop(i)
        return None


async def apply_before(fault: Fault | None) -> Response | None:
    """For a fault that answers instead of the request taking effect."""
    if fault is None:
        return None
    await asyncio.sleep(fault.delay)
    return None if fault.status == 0 else fault.response()


async def apply_after(fault: Fault | None, normal: Response) -> Response:
    """For a fault that answers after the request took effect (the order was accepted, say)."""
    if fault is None:
        return normal
    await asyncio.sleep(fault.delay)
    return normal if fault.status == 0 else fault.response()
