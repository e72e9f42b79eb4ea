"""Texts for the OpenAPI document: the API description and the tag groups."""

DESCRIPTION = """
The Solo Trader Stack service: trades, features and logs stored in Postgres (TimescaleDB in
production), Polygon market data, Tradier orders behind guardrails, Prometheus metrics.

**Auth.** Every `/api/v1/*` route except `GET /api/v1/diag/health` needs
`Authorization: Bearer $API_TOKEN`; a missing or wrong token answers 401.

**Creating.** `POST` takes one object or a JSON array of up to 1000 (stored with one COPY).
Send an `Idempotency-Key` header to make a retry safe: the same key with the same body returns
the first answer (header `Idempotency-Replayed: true`) and stores nothing twice; the same key with
a different body answers 422.

**Listing.** Newest first, ordered by (`ts`, `id`) descending. Pass the `next_cursor` of one page
as `cursor` to get the next; it is `null` on the last page. Filters combine with AND; `since` is
inclusive, `until` exclusive (ISO 8601 with a timezone, e.g. `2026-01-02T15:04:05Z`).

**Numbers.** Quantities and prices are decimals, returned as strings to keep their precision.

**Errors.** `{"detail": ...}`; 422 names the offending field, 503 (with `Retry-After`) means the
database is unreachable right now.
"""

TAGS = [
    {"name": "diag", "description": "Health and metrics (no token needed)."},
    {"name": "trades", "description": "Executed trades: fills with quantity, average price and P&L."},
    {"name": "features", "description": "Per-symbol feature snapshots (model inputs) as JSON."},
    {"name": "logs", "description": "Application and strategy log records."},
    {"name": "market", "description": "Polygon market data (live or end of day, as the plan allows)."},
    {"name": "assistant", "description": "data.snapshot (Polygon), orders.preview and .place (Tradier)."},
]
