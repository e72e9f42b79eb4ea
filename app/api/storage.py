"""What the trades/features/logs routes share: create one-or-batch with idempotency, list a page."""

import base64
import binascii
import json
from datetime import datetime
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Body, Header, Query, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from app.api.deps import MetricsDep, PoolDep
from app.api.schemas import MAX_BATCH, Created, Page, Timestamp
from app.db import idempotency
from app.db.rows import Table, copy_rows, fetch_page, insert_one
from app.metrics import Metrics

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias=idempotency.HEADER,
        pattern=r"^[\x21-\x7e]{1,255}$",
        description="any unique printable ASCII string (e.g. a UUID); a retry with the same key and "
        "body returns the first answer and stores nothing twice",
        examples=["3f1c2a9e-6c1b-4f7e-9d1a-2b8f0e5c7a10"],
    ),
]

CREATED_RESPONSES: dict[int | str, dict[str, Any]] = {
    422: {"description": "invalid body, or the Idempotency-Key was already used with a different body"},
}


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    since: Timestamp | None = Field(
        None, description="rows with ts >= since", examples=["2026-01-01T00:00:00Z"]
    )
    until: Timestamp | None = Field(
        None, description="rows with ts < until", examples=["2026-02-01T00:00:00Z"]
    )
    limit: int = Field(100, ge=1, le=500, description="page size")
    cursor: str | None = Field(None, max_length=200, description="`next_cursor` of the previous page")


def invalid(loc: tuple[str, ...], message: str) -> RequestValidationError:
    """A 422 in the same shape as FastAPI's own validation errors, naming the field at `loc`."""
    return RequestValidationError([{"type": "value_error", "loc": loc, "msg": message, "input": None}])


def encode_cursor(ts: datetime, ident: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([ts.isoformat(), ident]).encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        ts_text, ident = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        ts = datetime.fromisoformat(ts_text)
        if ts.tzinfo is None or not isinstance(ident, int) or not 0 < ident < 2**63:
            raise ValueError("cursor fields out of range")
        return ts, ident
    except (ValueError, TypeError, binascii.Error, UnicodeError):
        raise invalid(
            ("query", "cursor"),
            "not a value this API returned; pass `next_cursor` of the previous page as is",
        ) from None


async def create_rows(
    pool: asyncpg.Pool,
    metrics: Metrics,
    table: Table,
    out_model: type[BaseModel],
    body: BaseModel | list[BaseModel],
    key: str | None,
) -> JSONResponse:
    items = body if isinstance(body, list) else [body]
    digest = ""
    if key is not None:  # hashing a 1000-row batch is not free: only when a replay must be checked
        as_json = [item.model_dump(mode="json") for item in items]
        digest = idempotency.request_hash(as_json if isinstance(body, list) else as_json[0])

    async def work(conn: asyncpg.Connection) -> tuple[int, Any]:
        # a validated model's __dict__ is its field values: no copy per row
        if isinstance(body, list):
            ids = await copy_rows(conn, table, [vars(item) for item in items])
            return status.HTTP_201_CREATED, Created(count=len(ids), ids=ids).model_dump(mode="json")
        row = await insert_one(conn, table, vars(body))
        return status.HTTP_201_CREATED, out_model.model_validate(dict(row)).model_dump(mode="json")

    try:
        outcome = await idempotency.run_once(pool, f"POST /api/v1/{table.name}", key, digest, work)
    except idempotency.KeyReused as exc:
        raise invalid(("header", idempotency.HEADER), str(exc)) from None
    if not outcome.replayed:
        metrics.rows_written.labels(table.name).inc(len(items))
    headers = {"Idempotency-Replayed": "true"} if outcome.replayed else None
    return JSONResponse(outcome.body, status_code=outcome.status_code, headers=headers)


async def list_rows(
    pool: asyncpg.Pool, table: Table, out_model: type[BaseModel], query: ListQuery, equals: dict[str, Any]
) -> Response:
    rows = await fetch_page(
        pool,
        table,
        equals=equals,
        since=query.since,
        until=query.until,
        after=decode_cursor(query.cursor) if query.cursor else None,
        limit=query.limit,
    )
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    next_cursor = encode_cursor(rows[-1]["ts"], rows[-1]["id"]) if more else None
    # Serialised here: returning the model would make FastAPI validate every row a second time
    # against the route's response_model.
    page = Page[out_model](items=[out_model.model_validate(dict(r)) for r in rows], next_cursor=next_cursor)  # type: ignore[valid-type]
    return Response(page.model_dump_json(), media_type="application/json")


def _one_or_batch(value: Any) -> str:
    return "batch" if isinstance(value, list) else "one"


def table_router(
    table: Table,
    in_model: type[BaseModel],
    out_model: type[BaseModel],
    query_model: type[ListQuery],
    noun: str,
) -> APIRouter:
    """POST (one or a batch) and GET (a page) for one table; the filters are `table.filters`,
    declared as fields of `query_model`."""
    router = APIRouter(prefix=f"/{table.name}", tags=[table.name])
    # Discriminated by JSON shape, so a 422 reports the errors of the branch the client meant.
    body_type = Annotated[
        Annotated[in_model, Tag("one")]  # type: ignore[valid-type]
        | Annotated[list[in_model], Field(min_length=1, max_length=MAX_BATCH), Tag("batch")],  # type: ignore[valid-type]
        Discriminator(_one_or_batch),
        Body(description=f"one {noun}, or an array of up to {MAX_BATCH} (stored with one COPY)"),
    ]

    @router.post(
        "",
        status_code=status.HTTP_201_CREATED,
        response_model=out_model | Created,  # type: ignore[operator]
        responses=CREATED_RESPONSES,
        summary=f"Store {table.name}: one {noun} or a batch",
        operation_id=f"create_{table.name}",
    )
    async def create(
        body: body_type, pool: PoolDep, metrics: MetricsDep, idempotency_key: IdempotencyKey = None
    ) -> JSONResponse:
        return await create_rows(pool, metrics, table, out_model, body, idempotency_key)

    @router.get(
        "",
        response_model=Page[out_model],  # type: ignore[valid-type]
        summary=f"List {table.name}, newest first",
        operation_id=f"list_{table.name}",
    )
    async def list_(query: Annotated[query_model, Query()], pool: PoolDep) -> Response:  # type: ignore[valid-type]
        equals = {column: getattr(query, column) for column in table.filters}
        return await list_rows(pool, table, out_model, query, equals)

    return router
