"""The list cursor: opaque to clients, exact for the server, refused when forged."""

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest
from fastapi.exceptions import RequestValidationError

from app.api.storage import decode_cursor, encode_cursor


def test_round_trip_keeps_the_instant_and_id() -> None:
    ts = datetime(2026, 1, 2, 15, 4, 5, 123456, tzinfo=timezone(timedelta(hours=-5)))
    assert decode_cursor(encode_cursor(ts, 42)) == (ts, 42)
    assert decode_cursor(encode_cursor(ts, 42))[0] == ts.astimezone(UTC)


@pytest.mark.parametrize(
    "raw",
    [
        b"[]",
        b"{}",
        b'["2026-01-02T00:00:00", 1]',
        b'["2026-01-02T00:00:00Z", -1]',
        b'["2026-01-02T00:00:00Z", 1e30]',
        b'["2026-01-02T00:00:00Z", 99999999999999999999]',
        b"\xff\xfe",
    ],
)
def test_forged_cursors_are_a_validation_error_naming_cursor(raw: bytes) -> None:
    with pytest.raises(RequestValidationError) as err:
        decode_cursor(base64.urlsafe_b64encode(raw).decode())
    assert err.value.errors()[0]["loc"] == ("query", "cursor"), err.value.errors()
