"""Outbound provider clients (Polygon, Tradier) on one shared HTTP policy (http.py)."""
