"""One module per resource; app/api/router.py mounts them under /api/v1."""
