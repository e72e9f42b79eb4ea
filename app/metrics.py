"""The service's own Prometheus metrics (names are a contract with monitoring/; see docs/monitoring.md).

Each app instance owns a registry, so tests can build several apps in one process and read their
own counts; HTTP request metrics come from prometheus-fastapi-instrumentator on the same registry.
"""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from app import __version__


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.provider_requests = Counter(
            "trader_provider_requests",
            "Outbound provider calls by provider and outcome (HTTP status, timeout, error, breaker_open).",
            ["provider", "status"],
            registry=r,
        )
        self.provider_rate_limited = Counter(
            "trader_provider_rate_limited", "Provider calls answered 429.", ["provider"], registry=r
        )
        self.provider_duration = Histogram(
            "trader_provider_request_duration_seconds",
            "Latency of outbound provider calls.",
            ["provider"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.provider_breaker_open = Gauge(
            "trader_provider_breaker_open",
            "1 while the provider's circuit breaker is open.",
            ["provider"],
            registry=r,
        )
        self.alerts_sent = Counter(
            "trader_alerts_sent",
            "Discord alerts by outcome (sent, deduplicated, failed).",
            ["outcome"],
            registry=r,
        )
        self.orders = Counter(
            "trader_orders",
            "Orders by outcome (placed, rejected, failed, duplicate).",
            ["outcome"],
            registry=r,
        )
        self.orders_rejected = Counter(
            "trader_orders_rejected", "Orders refused by a guardrail, by rule.", ["rule"], registry=r
        )
        self.rows_written = Counter(
            "trader_rows_written", "Rows written by the API, by table.", ["table"], registry=r
        )
        self.db_pool_connections = Gauge(
            "trader_db_pool_connections", "Database pool connections by state.", ["state"], registry=r
        )
        self.db_pool_max = Gauge("trader_db_pool_max", "Database pool maximum size.", registry=r)
        self.db_up = Gauge("trader_db_up", "1 when the last database probe succeeded.", registry=r)
        Gauge("trader_build_info", "Build information.", ["version"], registry=r).labels(__version__).set(1)
        # --- background loops, alert rules, live stream (app/loops) ---
        self.loop_cycles = Counter(
            "trader_loop_cycles",
            "Loop cycles by outcome (done, failed, skipped, abandoned).",
            ["loop", "outcome"],
            registry=r,
        )
        self.loop_cycle_duration = Histogram(
            "trader_loop_cycle_duration_seconds",
            "How long a loop cycle took.",
            ["loop"],
            buckets=(1, 5, 15, 30, 60, 120, 300, 900),
            registry=r,
        )
        self.loop_symbols = Counter(
            "trader_loop_symbols",
            "Symbol snapshots (one per symbol and horizon) by outcome (done, failed).",
            ["loop", "outcome"],
            registry=r,
        )
        self.loop_lag = Gauge(
            "trader_loop_lag_seconds",
            "How late the last cycle started after its scheduled time.",
            ["loop"],
            registry=r,
        )
        self.loop_next_cycle = Gauge(
            "trader_loop_next_cycle_timestamp_seconds",
            "Scheduled time of the cycle the loop waits for or is running (overdue = stopped).",
            ["loop"],
            registry=r,
        )
        self.alert_rules_fired = Counter(
            "trader_alert_rules_fired", "Alert rule firings, by rule kind.", ["kind"], registry=r
        )
        self.alert_rules_suppressed = Counter(
            "trader_alert_rules_suppressed",
            "Crossings not sent because of the rule's cooldown.",
            ["kind"],
            registry=r,
        )
        self.alert_rules_enabled = Gauge(
            "trader_alert_rules_enabled", "Enabled alert rules at the last poll.", registry=r
        )
        self.stream_clients = Gauge("trader_stream_clients", "Connected /api/v1/stream clients.", registry=r)
        self.stream_clients_dropped = Counter(
            "trader_stream_clients_dropped",
            "Stream clients disconnected by the server, by reason (dead, slow).",
            ["reason"],
            registry=r,
        )
