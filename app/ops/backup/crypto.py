"""Client-side encryption with age (https://age-encryption.org), via Debian's `age` binary.

Why age: a small, well-specified and audited format with public-key recipients. The droplet holds
only recipients (public keys) and so can write backups it cannot read: an attacker on the droplet
gets no history, and the identity (private key) lives with the operator (see docs/backups.md).
Several recipients may be given (e.g. a laptop key and a paper key kept offline). age streams, so
a 1 GB dump never sits in memory.
"""

import shutil
import subprocess
from pathlib import Path

from app.ops.backup import BackupError

WRONG_KEY_MARKER = "no identity matched"


def age_binary() -> str:
    found = shutil.which("age")
    if not found:
        raise BackupError("the `age` command is not installed: apt-get install age (Debian package `age`)")
    return found


def encrypt(plain: Path, encrypted: Path, recipients: list[str]) -> None:
    if not recipients:
        raise BackupError("BACKUP_AGE_RECIPIENTS is empty: set it to the age public key(s) (age1...)")
    args = [age_binary(), "--encrypt", "--output", str(encrypted)]
    for recipient in recipients:
        args += ["--recipient", recipient]
    result = subprocess.run([*args, str(plain)], capture_output=True, text=True)
    if result.returncode != 0:
        encrypted.unlink(missing_ok=True)
        raise BackupError(f"age could not encrypt to BACKUP_AGE_RECIPIENTS: {result.stderr.strip()}")


def decrypt(encrypted: Path, plain: Path, identity_file: Path, recipients: list[str]) -> None:
    if not identity_file.is_file():
        raise BackupError(
            f"BACKUP_AGE_IDENTITY_FILE={identity_file} does not exist (the age private key file)"
        )
    result = subprocess.run(
        [age_binary(), "--decrypt", "--identity", str(identity_file), "--output", str(plain), str(encrypted)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        plain.unlink(missing_ok=True)
        if WRONG_KEY_MARKER in result.stderr:
            raise BackupError(
                f"wrong decryption key: BACKUP_AGE_IDENTITY_FILE={identity_file} holds no identity for this "
                f"backup, which was encrypted to {', '.join(recipients) or 'unknown recipients'}; use the "
                "identity whose public key (age-keygen -y FILE) is one of those"
            )
        raise BackupError(f"age could not decrypt {encrypted.name}: {result.stderr.strip()}")
