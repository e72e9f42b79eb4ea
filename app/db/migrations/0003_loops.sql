-- Background loops (app/loops). A cycle of the watchlist snapshot loop is identified by its
-- scheduled time: the unique key lets a restarted or second process see that a cycle already ran
-- (or how far it got), so none is written twice or lost.
create table loop_cycles (
    loop         text not null,
    scheduled_at timestamptz not null,
    -- running: claimed, possibly interrupted (a restart resumes it); done / failed: final
    status       text not null check (status in ('running', 'done', 'failed')),
    attempts     int not null default 1,
    started_at   timestamptz not null default now(),
    finished_at  timestamptz,
    units_done   int not null default 0,
    units_failed int not null default 0,
    primary key (loop, scheduled_at)
);

-- One row per (symbol, horizon) a cycle has stored, committed in the same transaction as its
-- `features` rows: what a resumed cycle skips.
create table loop_cycle_units (
    loop         text not null,
    scheduled_at timestamptz not null,
    symbol       text not null,
    horizon      text not null,
    primary key (loop, scheduled_at, symbol, horizon),
    foreign key (loop, scheduled_at) references loop_cycles on delete cascade
);

-- Alert rules managed through /api/v1/alerts and evaluated by the poller against new `features`
-- rows. `level` is a price (price_cross), a percentage (pct_move, signed: above 2 = up 2 %,
-- below -2 = down 2 %) or a feature value (feature_cross, `field` a dotted path in the payload).
create table alert_rules (
    id               bigint generated always as identity primary key,
    kind             text not null check (kind in ('price_cross', 'pct_move', 'feature_cross')),
    symbol           text not null,
    direction        text not null check (direction in ('above', 'below')),
    level            double precision not null,
    window_minutes   int check (window_minutes > 0),
    field            text,
    horizon          text,
    cooldown_seconds int not null default 3600 check (cooldown_seconds >= 0),
    note             text,
    enabled          boolean not null default true,
    created_at       timestamptz not null default now(),
    disabled_at      timestamptz,
    -- evaluation state, updated in the transaction that records a firing: a restart neither
    -- fires a crossing twice nor forgets which side of the level the value was on
    last_feature_id  bigint,
    last_value       double precision,
    last_met         boolean,
    last_fired_at    timestamptz,
    fired_count      int not null default 0,
    check ((kind = 'pct_move') = (window_minutes is not null)),
    check ((kind = 'feature_cross') = (field is not null))
);
create index alert_rules_enabled_symbol on alert_rules (symbol) where enabled;
