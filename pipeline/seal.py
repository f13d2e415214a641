"""The evidence seal in ``manifest.json``: primary evidence, derived views, the verdict log,
and optionally an Ed25519 signature over all three.

- *Primary* evidence (the tables, clips, thumbs) is hashed by the scan (``files``) and never
  changes afterwards; ``seal.primary`` is the hash of that part of the manifest.
- *Derived* views (``report/``) may be regenerated at any time (``report --lang en``); each is
  recorded under ``derived`` with its hash and the primary hash it was made from, so a fresh
  report keeps the archive green while a hand-edited one does not.
- The verdict log (reviews.parquet) is hash-chained row by row (pipeline.review.reviews);
  the manifest records its length and head, so deleting the last verdicts shows too.
- ``seal.head`` hashes the payload (primary hash, file hashes, derived hashes, log head); a
  signature signs that payload, which the manifest keeps, so a manifest recomputed by hand
  after an edit is caught and the check can still name the file that changed.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline import __version__
from pipeline.evidence import CACHE_DIR, atomic_write_bytes, evidence_lock, sha256_path
from pipeline.review import reviews as log

_logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

MANIFEST = "manifest.json"
REVIEWS = "reviews.parquet"
DERIVED_DIRS = ("report",)
PRIMARY_KEYS = ("tool", "version", "config_hash", "inputs", "files")


@dataclass(frozen=True)
class Problem:
    what: str  # evidence | derived | reviews | seal | recording | session
    name: str
    status: str  # changed | missing | appeared | edited | deleted | reordered | unsigned | ...
    detail: str = ""


def signing_key(path: Path | None, evidence_dir: Path) -> Ed25519PrivateKey | None:
    """The private key from ``--sign-key`` (None without one); refused inside the evidence."""
    if path is None:
        return None
    from pipeline.signing import load_private_key

    return load_private_key(path, evidence_dir)


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest(obj: Any) -> str:
    return hashlib.sha256(canonical(obj)).hexdigest()


def is_derived(rel: str) -> bool:
    return rel.split("/", 1)[0] in DERIVED_DIRS


def evidence_files(evidence_dir: Path) -> list[Path]:
    """Every file the manifest covers by hash (not the cache, not the manifest itself, not
    reviews.parquet, which is sealed by its own chain)."""
    root = Path(evidence_dir)
    out = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if not path.is_file() or rel.parts[0] in (CACHE_DIR, MANIFEST, REVIEWS):
            continue
        if path.name.startswith(".") and path.name.endswith(".tmp"):
            continue
        out.append(path)
    return out


def read_manifest(evidence_dir: Path) -> dict:
    return json.loads((Path(evidence_dir) / MANIFEST).read_text(encoding="utf-8"))


def primary_digest(manifest: dict) -> str:
    return digest({k: manifest.get(k) for k in PRIMARY_KEYS})


def _log_state(evidence_dir: Path) -> dict:
    rows = log.load_reviews(evidence_dir).to_pylist()
    return {"rows": len(rows), "head": log.log_head(rows)}


def payload(manifest: dict) -> dict:
    """What the head hashes and a signature signs."""
    return {
        "primary": primary_digest(manifest),
        "files": manifest.get("files", {}),
        "derived": {rel: d["sha256"] for rel, d in sorted(manifest.get("derived", {}).items())},
        "reviews": manifest.get("reviews", {"rows": 0, "head": log.GENESIS}),
    }


def _finish(root: Path, manifest: dict, sign_key: Ed25519PrivateKey | None) -> dict:
    """Recompute the head, sign when a key is given, write the manifest atomically."""
    body = payload(manifest)
    manifest["seal"] = {"primary": body["primary"], "head": digest(body)}
    if sign_key is not None:  # only then: importing cryptography costs an unsigned scan 70 ms
        from pipeline import signing

        manifest["signature"] = {
            "algorithm": "ed25519",
            "key_id": signing.key_id(sign_key.public_key()),
            "signed_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "signed": body,
            "value": signing.sign(sign_key, canonical(body)),
        }
    blob = json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False).encode()
    atomic_write_bytes(root / MANIFEST, blob)
    return manifest


def seal_primary(
    evidence_dir: Path,
    inputs: dict[str, Any],
    config_hash: str,
    sign_key: Ed25519PrivateKey | None = None,
) -> dict:
    """The scan's seal: hash the primary evidence; views already on disk stay derived (kept
    with the primary they were made from when unchanged, else marked as of unknown origin)."""
    root = Path(evidence_dir)
    with evidence_lock(root):
        try:
            old_derived = read_manifest(root).get("derived", {})
        except (OSError, ValueError):
            old_derived = {}
        files, derived = {}, {}
        for path in evidence_files(root):
            rel, sha = path.relative_to(root).as_posix(), sha256_path(path)
            if not is_derived(rel) and rel not in old_derived:
                files[rel] = sha
            elif old_derived.get(rel, {}).get("sha256") == sha:
                derived[rel] = old_derived[rel]
            else:
                derived[rel] = {"sha256": sha, "from_primary": None}
        manifest = {
            "tool": "examaudit",
            "version": __version__,
            "config_hash": config_hash,
            "inputs": inputs,
            "files": files,
            "derived": derived,
            "reviews": _reviews_state(root),
        }
        return _finish(root, manifest, sign_key)


def _reviews_state(root: Path) -> dict:
    """The verdict log's state for a new primary seal. A rescan must not launder the log:
    when it no longer matches the seal on disk (a verdict edited, deleted or reordered), the
    old state is kept, so ``archive-check`` goes on naming the change."""
    try:
        sealed = read_manifest(root).get("reviews")
    except (OSError, ValueError):
        sealed = None
    if sealed and review_log_problems(root, log.load_reviews(root).to_pylist()):
        _logger.warning(
            "%s: the verdict log does not match its seal; the seal keeps the sealed log state",
            root / REVIEWS,
        )
        return sealed
    return _log_state(root)


def reseal(
    evidence_dir: Path,
    views: Iterable[Path | str] = (),
    sign_key: Ed25519PrivateKey | None = None,
) -> dict | None:
    """After legitimate work on sealed evidence (a regenerated view, an appended verdict):
    record the named views as derived from the current primary and the log's new head. Only
    the views named are re-hashed, so a view edited by hand stays flagged. None when the
    folder has no manifest (nothing to seal)."""
    root = Path(evidence_dir)
    with evidence_lock(root):
        if not (root / MANIFEST).is_file():
            return None
        manifest = read_manifest(root)
        derived = dict(manifest.get("derived", {}))
        for rel in [r for r in manifest.get("files", {}) if is_derived(r)]:  # older manifests
            derived.setdefault(rel, {"sha256": manifest["files"].pop(rel), "from_primary": None})
        primary = primary_digest(manifest)
        for view in views:
            path = Path(view) if Path(view).is_absolute() else root / view
            rel = path.resolve().relative_to(root.resolve()).as_posix()
            derived[rel] = {
                "sha256": sha256_path(path),
                "from_primary": primary,
                "made_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
        manifest["derived"] = dict(sorted(derived.items()))
        manifest["reviews"] = _log_state(root)
        return _finish(root, manifest, sign_key)


def review_log_problems(evidence_dir: Path, rows: list[dict]) -> list[Problem]:
    """The verdict log against its own chain and against the length and head the seal
    recorded (which is how deleting the newest verdicts shows)."""
    out = [
        Problem(
            "reviews",
            f"row {p.position}" if p.position else f"seq {p.seq}",
            p.status,
            f"{p.detail}" + (f"; event {p.event_id}" if p.event_id else ""),
        )
        for p in log.chain_problems(rows)
    ]
    try:
        sealed = read_manifest(evidence_dir).get("reviews")
    except (OSError, ValueError):
        sealed = None
    if not sealed:
        return out
    n, head = sealed.get("rows", 0), sealed.get("head", log.GENESIS)
    if len(rows) < n and not any(p.status == "deleted" for p in out):
        out.append(
            Problem("reviews", REVIEWS, "deleted", f"{n - len(rows)} of {n} sealed verdict rows")
        )
    elif len(rows) > n:
        out.append(Problem("reviews", REVIEWS, "appeared", f"{len(rows) - n} rows not in the seal"))
    elif log.log_head(rows) != head and not out:
        out.append(Problem("reviews", REVIEWS, "changed", "log head differs from the seal"))
    return out


def check_seal(
    evidence_dir: Path, public_key: Ed25519PublicKey | None = None
) -> tuple[list[Problem], list[str]]:
    """Problems (the check fails) and notes (it passes) for the manifest's own contents."""
    root = Path(evidence_dir)
    manifest = read_manifest(root)
    problems: list[Problem] = []
    notes: list[str] = []
    recorded = manifest.get("files", {})
    derived = manifest.get("derived", {})
    problems += _compare(root, recorded, "evidence", "sha256 differs from manifest")
    problems += _compare(
        root, {r: d["sha256"] for r, d in derived.items()}, "derived", "edited after it was made"
    )
    for path in evidence_files(root):
        rel = path.relative_to(root).as_posix()
        if rel not in recorded and rel not in derived:
            what = "derived" if is_derived(rel) else "evidence"
            problems.append(Problem(what, rel, "appeared", "not in manifest"))
    if "seal" not in manifest:
        notes.append("manifest written before the seal existed: verdicts and views not sealed")
        return problems, notes
    primary = primary_digest(manifest)
    if manifest["seal"].get("primary") != primary:
        problems.append(Problem("seal", MANIFEST, "changed", "primary part edited by hand"))
    elif manifest["seal"].get("head") != digest(payload(manifest)):
        problems.append(Problem("seal", MANIFEST, "changed", "head differs: edited by hand"))
    for rel, d in derived.items():
        if d.get("from_primary") not in (None, primary):
            notes.append(f"{rel} was made from an earlier scan; `examaudit report` renews it")
    problems += review_log_problems(root, log.load_reviews(root).to_pylist())
    problems += _check_signature(root, manifest, public_key, notes)
    return problems, notes


def _compare(root: Path, hashes: dict[str, str], what: str, why: str) -> list[Problem]:
    out = []
    for rel, sha in sorted(hashes.items()):
        path = root / rel
        if not path.is_file():
            out.append(Problem(what, rel, "missing"))
        elif sha256_path(path) != sha:
            out.append(Problem(what, rel, "changed", why))
    return out


def _check_signature(
    root: Path, manifest: dict, public_key: Ed25519PublicKey | None, notes: list[str]
) -> list[Problem]:
    from pipeline import signing

    sig = manifest.get("signature")
    if public_key is None:
        notes.append(
            f"seal signed by key {sig.get('key_id')}; pass --public-key to verify it"
            if sig
            else "seal unsigned (scan --sign-key KEY signs it)"
        )
        return []
    if not sig:
        return [Problem("seal", MANIFEST, "unsigned", "no signature, but --public-key given")]
    signed = sig.get("signed") or {}
    if not signing.verify(public_key, canonical(signed), str(sig.get("value", ""))):
        return [
            Problem(
                "seal",
                MANIFEST,
                "bad_signature",
                f"does not verify with key {signing.key_id(public_key)}: the signed part of "
                "manifest.json was edited, or another key signed it",
            )
        ]
    notes.append(f"signature by key {sig.get('key_id')} verified ({sig.get('signed_at')})")
    out: list[Problem] = []
    now = payload(manifest)
    if signed.get("primary") != now["primary"]:
        files = signed.get("files", {})
        out += _compare(root, files, "evidence", "differs from the signed manifest")
        out += [
            Problem("evidence", rel, "appeared", "not in the signed manifest")
            for rel in sorted(set(now["files"]) - set(files))
        ]
        if not out:
            out.append(Problem("seal", MANIFEST, "changed", "inputs differ from the signed ones"))
    for rel in sorted(set(signed.get("derived", {})) | set(now["derived"])):
        if signed.get("derived", {}).get(rel) != now["derived"].get(rel):
            out.append(Problem("derived", rel, "unsigned", "changed after the last signature"))
    s_log, rows = signed.get("reviews", {}), log.load_reviews(root).to_pylist()
    n = s_log.get("rows", 0)
    if len(rows) < n:
        out.append(Problem("reviews", REVIEWS, "deleted", f"{n - len(rows)} signed rows gone"))
    elif log.log_head(rows[:n]) != s_log.get("head", log.GENESIS):
        out.append(
            Problem("reviews", REVIEWS, "changed", f"the first {n} rows differ from the signed log")
        )
    elif len(rows) > n:
        out.append(
            Problem("reviews", REVIEWS, "unsigned", f"{len(rows) - n} rows after the signature")
        )
    return out
