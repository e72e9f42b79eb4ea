-- Order bookkeeping for the no-duplicate protocol (app/trading/orders.py). A row is written as
-- `pending` before the order is sent; its client order id travels to Tradier as the order tag, so
-- an attempt whose outcome is unknown (timeout, 5xx, crash) is settled by looking the tag up in
-- the account's orders instead of sending again.
create table orders (
    client_order_id text primary key check (client_order_id ~ '^[A-Za-z0-9-]{1,64}$'),
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    symbol          text not null,
    side            text not null check (side in ('buy', 'sell', 'buy_to_cover', 'sell_short')),
    type            text not null check (type in ('market', 'limit', 'stop', 'stop_limit')),
    duration        text not null check (duration in ('day', 'gtc', 'pre', 'post')),
    qty             numeric not null check (qty > 0),
    price           numeric,
    stop            numeric,
    -- the same client order id with a different order is a client bug, refused with 409
    request_hash    text not null,
    -- pending: about to be sent; unknown: sent, outcome not known; placed: Tradier has it;
    -- rejected: Tradier refused it (its messages in last_error)
    status          text not null check (status in ('pending', 'unknown', 'placed', 'rejected')),
    broker_order_id bigint,
    sends           int not null default 0,
    last_error      text
);
create index orders_status_created on orders (status, created_at desc);
