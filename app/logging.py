"""Structured logs: one JSON object per line on stdout (Promtail/Loki and `docker logs` read them).

Every request logs one `request` event with request id, route template, status and latency (see
app/api/middleware.py). Secrets never reach the log: the settings hold them as SecretStr, headers
are never logged, and `_redact` blanks any field whose name looks like a credential and scrubs
credentials out of every text value (nested too, exception tracebacks included): `Bearer …`
tokens, `apiKey=`/`access_token=`-style query parameters, passwords in URLs, Discord webhook tokens.
Provider calls log a `provider_call` event (provider, status, and the request id it served).
"""

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

SECRET_HINTS = ("authorization", "token", "password", "secret", "api_key", "webhook")


# Credentials inside text: (pattern, replacement keeping what identifies the call but not the secret)
SECRET_PATTERNS = (
    (re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]{8,}"), r"\1\2[redacted]"),
    (
        re.compile(
            r"(?i)([?&;](?:api[-_]?key|access[-_]?token|refresh[-_]?token|token|secret|client[-_]?secret"
            r"|password|passwd|signature|x-amz-signature|x-amz-credential|sig|key)=)[^&\s\"'<>]+"
        ),
        r"\1[redacted]",
    ),
    (re.compile(r"(://[^/\s:@]+:)[^@\s/]+@"), r"\1[redacted]@"),  # scheme://user:password@host
    (re.compile(r"(?i)(discord(?:app)?\.com/api/webhooks/\d+/)[\w-]+"), r"\1[redacted]"),
)


def redact_text(text: str) -> str:
    for pattern, replacement in SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: "[redacted]" if _secret_key(k) else _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def _secret_key(key: object) -> bool:
    return isinstance(key, str) and any(hint in key.lower() for hint in SECRET_HINTS)


def _redact(_logger: object, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in event:
        event[key] = "[redacted]" if _secret_key(key) else _scrub(event[key])
    return event


_provider_log = structlog.get_logger("app.providers")


def log_provider_call(provider: str, status: str) -> None:
    """A `ProviderHTTP` listener: one `provider_call` line per outbound call (the request id of the
    request it served comes from the context); failures at warning, as the journal records them."""
    emit = _provider_log.info if status[:1] in ("1", "2", "3") else _provider_log.warning
    emit("provider_call", provider=provider, status=status)


class _StdoutHandler(logging.StreamHandler):
    """Writes to whatever sys.stdout is when a record is emitted (so redirection and test capture
    that start after start-up still see the logs)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout
        super().emit(record)


def configure_logging(level: str = "INFO", json: bool = True) -> None:
    """Route structlog and the standard library (uvicorn, asyncpg) through one renderer."""
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
    ]
    renderer = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = _StdoutHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                _redact,  # again: the traceback text just rendered may hold a URL with a key
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn's own access log would duplicate our request events, without the request id.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
