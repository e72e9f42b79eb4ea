"""Structured logs: JSON lines, secrets redacted by field name."""

import json
import logging

import pytest
import structlog

from app.logging import configure_logging


def test_json_lines_with_redacted_secret_fields(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json=True)
    structlog.get_logger("unit").info("connected", api_token="s3cr3t", webhook_url="https://x/y", rows=3)
    logging.getLogger("tests.stdlib").info("from the standard library")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["event"] == "connected" and lines[0]["rows"] == 3, lines
    assert lines[0]["api_token"] == "[redacted]" and lines[0]["webhook_url"] == "[redacted]", lines[0]
    assert lines[1]["event"] == "from the standard library" and lines[1]["logger"] == "tests.stdlib", lines
