-- Core tables. Every table that may become a TimescaleDB hypertable keeps `ts` in its primary key,
-- because a hypertable's unique indexes must include the partitioning column.

create table trades (
    id        bigint generated always as identity,
    ts        timestamptz not null,
    symbol    text not null,
    side      text not null check (side in ('buy', 'sell', 'buy_to_cover', 'sell_short')),
    type      text not null check (type in ('market', 'limit', 'stop', 'stop_limit')),
    qty       numeric not null check (qty > 0),
    avg_price numeric not null check (avg_price >= 0),
    pnl       numeric,
    tags      text[] not null default '{}',
    primary key (id, ts)
);
-- list endpoints page by (ts, id) descending, optionally filtered by symbol
create index trades_ts_id on trades (ts desc, id desc);
create index trades_symbol_ts_id on trades (symbol, ts desc, id desc);

create table features (
    id      bigint generated always as identity,
    ts      timestamptz not null,
    symbol  text not null,
    horizon text not null,
    payload jsonb not null default '{}',
    primary key (id, ts)
);
create index features_ts_id on features (ts desc, id desc);
create index features_symbol_ts_id on features (symbol, ts desc, id desc);

create table logs (
    id      bigint generated always as identity,
    ts      timestamptz not null default now(),
    level   text not null check (level in ('debug', 'info', 'warning', 'error', 'critical')),
    source  text not null,
    message text not null,
    payload jsonb not null default '{}',
    primary key (id, ts)
);
create index logs_ts_id on logs (ts desc, id desc);
create index logs_source_ts on logs (source, ts desc);

-- A create request repeated with the same Idempotency-Key returns the first response and stores
-- nothing twice; the hash catches a key reused for a different body.
create table idempotency_keys (
    route        text not null,
    key          text not null,
    request_hash text not null,
    status_code  int,
    response     jsonb,
    created_at   timestamptz not null default now(),
    primary key (route, key)
);
