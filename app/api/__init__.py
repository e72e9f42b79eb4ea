"""HTTP layer: routers, dependencies, error mapping and request middleware."""
