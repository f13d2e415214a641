"""Ed25519 keys for signing the evidence seal (``examaudit keygen``, ``--sign-key``,
``archive-check --public-key``), through the ``cryptography`` package.

A manifest is only a list of hashes: whoever edits a table can recompute it. A signature by a
key the forger does not hold cannot be recomputed. Keys live outside evidence folders (an
archive that carries its own private key proves nothing), so both writing and loading a
private key inside one is refused.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from pipeline.errors import InputError

PRIVATE_NAME = "examaudit_ed25519"
PUBLIC_NAME = "examaudit_ed25519.pub"
# files that mark a folder as an evidence folder
EVIDENCE_MARKERS = ("manifest.json", "events.parquet", "sessions.parquet", "reviews.parquet")


def evidence_folder_around(path: Path) -> Path | None:
    """The evidence folder that ``path`` (a file or folder) lies in, if any."""
    path = Path(path).resolve()
    for folder in (path, *path.parents):
        if folder.is_dir() and any((folder / m).is_file() for m in EVIDENCE_MARKERS):
            return folder
    return None


def key_id(public: Ed25519PublicKey) -> str:
    """Short fingerprint of a public key, shown in manifests and messages."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def keygen(folder: Path) -> tuple[Path, Path]:
    """Write a new key pair into ``folder`` (private key mode 0600); never overwrite one."""
    folder = Path(folder)
    inside = evidence_folder_around(folder)
    if inside is not None:
        raise InputError(folder, None, f"inside the evidence folder {inside}: keep keys elsewhere")
    folder.mkdir(parents=True, exist_ok=True)
    private, public = folder / PRIVATE_NAME, folder / PUBLIC_NAME
    for path in (private, public):
        if path.exists():
            raise InputError(path, None, "already exists; not overwritten")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


def load_private_key(path: Path, evidence_dir: Path | None = None) -> Ed25519PrivateKey:
    """Read a private key, refusing one kept inside an evidence folder."""
    path = Path(path)
    inside = evidence_folder_around(path.parent)
    if evidence_dir is not None and path.resolve().is_relative_to(Path(evidence_dir).resolve()):
        inside = Path(evidence_dir)
    if inside is not None:
        raise InputError(path, None, f"private key inside the evidence folder {inside}: move it")
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise InputError(path, None, f"cannot read the key ({exc.strerror or exc})") from exc
    except (ValueError, TypeError) as exc:
        raise InputError(path, None, f"not an unencrypted PEM private key ({exc})") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError(path, None, "not an Ed25519 key (make one with `examaudit keygen DIR`)")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    path = Path(path)
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except OSError as exc:
        raise InputError(path, None, f"cannot read the key ({exc.strerror or exc})") from exc
    except ValueError as exc:
        raise InputError(path, None, f"not a PEM public key ({exc})") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise InputError(path, None, "not an Ed25519 public key")
    return key


def sign(key: Ed25519PrivateKey, message: bytes) -> str:
    return base64.b64encode(key.sign(message)).decode("ascii")


def verify(public: Ed25519PublicKey, message: bytes, signature: str) -> bool:
    try:
        public.verify(base64.b64decode(signature, validate=True), message)
    except (InvalidSignature, ValueError):
        return False
    return True
