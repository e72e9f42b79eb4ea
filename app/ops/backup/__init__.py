"""Database backups: `trader backup run|list|restore|verify`.

A run takes a snapshot-consistent `pg_dump` (custom format, compressed by pg_dump), records row
counts and checksums of every table from the same snapshot (the manifest), checks the dump,
encrypts it with age to the configured recipients, uploads it to the bucket and only then points
`latest.json` at it; retention runs last. See docs/backups.md.
"""


class BackupError(RuntimeError):
    """A backup, restore or verify step failed; the message names what to fix."""
