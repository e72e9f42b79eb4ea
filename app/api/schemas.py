"""Request and response bodies shared by the storage routes, with the limits Postgres needs.

Validation here is what keeps bad input a 422 instead of a database error: text without NUL or
unpaired surrogates, finite JSON numbers, timestamps with a timezone inside a sane range, decimals
with bounded precision.
"""

import json
import math
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    Field,
    JsonValue,
    StringConstraints,
)

ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
TS_MIN = datetime(1970, 1, 1, tzinfo=UTC)
TS_MAX = datetime(2200, 1, 1, tzinfo=UTC)
MAX_BATCH = 1000
MAX_PAYLOAD_BYTES = 64 * 1024


def _pg_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL (\\u0000) characters")
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (no unpaired surrogates)") from None
    return value


def _iso_text(value: Any) -> Any:
    # pydantic would read a number (also "0.5" in a query string) as Unix seconds; the documented
    # format is ISO 8601 text.
    if isinstance(value, datetime):  # from the database or Python callers
        return value
    if not isinstance(value, str) or not ISO_DATE.match(value):
        raise ValueError("must be an ISO 8601 date-time string with a timezone, e.g. 2026-01-02T15:04:05Z")
    return value


def _walk(value: Any) -> None:
    if isinstance(value, str):
        _pg_text(value)
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError("numbers must be finite")
    elif isinstance(value, dict):
        for key, item in value.items():
            _pg_text(key)
            _walk(item)
    elif isinstance(value, list):
        for item in value:
            _walk(item)


def _payload(value: dict[str, Any]) -> dict[str, Any]:
    _walk(value)
    if len(json.dumps(value)) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"must be at most {MAX_PAYLOAD_BYTES} bytes as JSON")
    return value


Text = Annotated[str, AfterValidator(_pg_text)]
# the range check runs in pydantic-core: a Python validator costs microseconds per row of a batch
Timestamp = Annotated[AwareDatetime, BeforeValidator(_iso_text), Field(ge=TS_MIN, lt=TS_MAX)]
Symbol = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9.\-/]{1,32}$", to_upper=True),
    Field(description="ticker or OCC option symbol, stored upper-case", examples=["AAPL"]),
]
Payload = Annotated[
    dict[str, JsonValue],
    AfterValidator(_payload),
    Field(description=f"any JSON object up to {MAX_PAYLOAD_BYTES} bytes"),
]


class Created(BaseModel):
    """Answer to a batch create: how many rows were stored and their ids, in request order."""

    count: int = Field(examples=[2])
    ids: list[int] = Field(examples=[[41, 42]])


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page; null on the last page",
        examples=["WyIyMDI2LTAxLTAyVDE1OjA0OjA1KzAwOjAwIiwgNDJd"],
    )
