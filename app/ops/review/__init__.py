"""Weekly review and log summaries: deterministic facts from Postgres, then an optional,
cost-capped model summary (see docs/review.md)."""
