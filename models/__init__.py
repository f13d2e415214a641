"""Model registry and lookup: which weights ExamAudit can use, where they are, whether they match.

One model is committed here (SSDLite, the offline default, with its licence in registry.toml);
other weights are not. A registered file is looked for, in order, in ``$EXAMAUDIT_MODELS``
(folders separated by ``os.pathsep``), this package's folder, ``~/.cache/examaudit/models``,
Ultralytics' ``weights_dir`` setting, and the current directory. Fetching is attempted only
where the network answers within a short timeout (it never hangs an offline machine).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
import tomllib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

HERE = Path(__file__).resolve().parent
CACHE = Path.home() / ".cache" / "examaudit" / "models"
OFFLINE_ENV = ("EXAMAUDIT_OFFLINE", "YOLO_OFFLINE")


@dataclass(frozen=True)
class ModelInfo:
    name: str
    backend: str
    file: str
    sha256: str
    source: str
    licence: str
    classes: str = ""
    upstream: str = ""  # project the weights come from, when ``source`` is a package
    conversion: str = ""  # how a converted file was made from ``source``
    licence_text: str = ""  # full licence where it asks to be shipped with the weights


def registry() -> dict[str, ModelInfo]:
    raw = tomllib.loads((HERE / "registry.toml").read_text(encoding="utf-8"))
    return {name: ModelInfo(name=name, **entry) for name, entry in raw.items()}


def by_file(file: str) -> ModelInfo | None:
    """The registry entry whose file name is ``file`` (e.g. ``yolo11n.pt``), if any."""
    name = Path(file).name
    return next((m for m in registry().values() if m.file and m.file == name), None)


def _ultralytics_weights_dir() -> Path | None:
    """Read Ultralytics' settings file without importing ultralytics (slow to import)."""
    base = os.environ.get("YOLO_CONFIG_DIR")
    cfg = Path(base) if base else Path.home() / ".config" / "Ultralytics"
    try:
        value = json.loads((cfg / "settings.json").read_text()).get("weights_dir")
    except (OSError, ValueError):
        return None
    return Path(value) if value else None


def search_dirs() -> list[Path]:
    dirs = [Path(p) for p in os.environ.get("EXAMAUDIT_MODELS", "").split(os.pathsep) if p]
    dirs += [HERE, CACHE]
    ul = _ultralytics_weights_dir()
    if ul is not None:
        dirs.append(ul)
    dirs.append(Path.cwd())
    return dirs


def find(file: str) -> Path | None:
    """An existing path for ``file``: as given when it exists, else in :func:`search_dirs`."""
    p = Path(file).expanduser()
    if p.is_file():
        return p.resolve()
    if p.is_absolute():
        return None
    for d in search_dirs():
        if (d / p).is_file():
            return (d / p).resolve()
    return None


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify(path: Path, info: ModelInfo | None = None) -> bool | None:
    """True/False when the registry pins a sha256 for this file, None when it does not."""
    info = info or by_file(path.name)
    if info is None or not info.sha256:
        return None
    return sha256_of(path) == info.sha256


def online(url: str, timeout_s: float = 1.5) -> bool:
    """Whether ``url``'s host accepts a TCP connection within ``timeout_s`` (DNS included).

    Runs in a daemon thread so a resolver that hangs cannot stall the caller.
    """
    if any(os.environ.get(k, "").strip() not in ("", "0") for k in OFFLINE_ENV):
        return False
    parsed = urlparse(url)
    host, port = parsed.hostname, parsed.port or (443 if parsed.scheme == "https" else 80)
    if not host:
        return False
    ok: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout_s):
                ok.append(True)
        except OSError:
            pass

    t = threading.Thread(target=probe, daemon=True)
    t.start()
    t.join(timeout_s)
    return bool(ok)


def fetch(info: ModelInfo, dest: Path = CACHE, timeout_s: float = 60.0) -> Path:
    """Download ``info.source`` into ``dest`` atomically and check its sha256 when pinned."""
    import tempfile
    import urllib.request

    dest.mkdir(parents=True, exist_ok=True)
    target = dest / info.file
    with (
        tempfile.NamedTemporaryFile(dir=dest, delete=False, suffix=".part") as tmp,
        urllib.request.urlopen(info.source, timeout=timeout_s) as resp,
    ):
        for block in iter(lambda: resp.read(1 << 20), b""):
            tmp.write(block)
    part = Path(tmp.name)
    if info.sha256 and sha256_of(part) != info.sha256:
        part.unlink(missing_ok=True)
        raise OSError(f"{info.source}: sha256 does not match the registry entry {info.name}")
    part.replace(target)
    return target
