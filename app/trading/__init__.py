"""Orders: guardrails (guardrails.py) and the no-duplicate placement protocol (orders.py)."""
