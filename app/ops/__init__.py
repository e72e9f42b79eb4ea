"""Operator-side commands (lab, inventory, backups, log archive, review); not imported by the service."""
