"""Operator alerts: the Discord notifier and the hooks that decide when to page."""
