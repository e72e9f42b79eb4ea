"""`/api/v1/stream`: a WebSocket of new snapshots and alert firings (app/loops/stream.py), behind
the same `Authorization: Bearer $API_TOKEN` as every other route, checked before the handshake
is accepted (a refused client gets HTTP 403)."""

from fastapi import APIRouter, HTTPException, WebSocket, status
from fastapi.security import HTTPAuthorizationCredentials

from app.api.deps import require_token

router = APIRouter(tags=["stream"])


def _credentials(header: str | None) -> HTTPAuthorizationCredentials | None:
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    return HTTPAuthorizationCredentials(scheme=scheme, credentials=token.strip())


@router.websocket("/stream")
async def stream(websocket: WebSocket) -> None:
    settings = websocket.app.state.settings
    try:
        await require_token(settings, _credentials(websocket.headers.get("authorization")))
    except HTTPException as exc:
        await websocket.close(status.WS_1008_POLICY_VIOLATION, reason=str(exc.detail))
        return
    await websocket.accept()
    await websocket.app.state.stream.serve(websocket, settings.ws_ping_sec)
