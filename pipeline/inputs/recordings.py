"""Find recordings and attribute each to a camera and a wall-clock start.

Order of evidence (DESIGN.md): a ``recordings.csv`` manifest, else the file name via the
site's ``filename_pattern`` (local time in the site's time zone), else the container's
``creation_time`` tag (read by the probe). A file whose name carries no camera takes the name
of the sub-folder it sits in (``RECORDINGS/cam01/export.mp4``).
"""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

from pipeline.errors import InputError
from pipeline.inputs.config import Site
from pipeline.inputs.schedule import parse_time
from pipeline.records import Recording

VIDEO_SUFFIXES = frozenset(
    {
        ".mp4",
        ".m4v",
        ".mov",
        ".mkv",
        ".avi",
        ".ts",
        ".mts",
        ".flv",
        ".webm",
        ".h264",
        ".h265",
        ".hevc",
        ".264",
        ".265",
        ".dav",
        ".asf",
        ".3gp",
    }
)
MANIFEST = "recordings.csv"


def parse_filename(name: str, site: Site) -> tuple[str | None, datetime | None]:
    """Camera and start from a file name such as ``cam01_20220315T083000.mp4``."""
    match = site.filename_regex.search(Path(name).stem)
    if not match:
        return None, None
    camera = match.group("camera_id")
    digits = match.group("start").replace("T", "")
    try:
        local = datetime.strptime(digits, "%Y%m%d%H%M%S")
    except ValueError:
        return camera, None
    return camera, local.replace(tzinfo=site.tz)


def load_manifest(path: Path, root: Path, site: Site) -> dict[Path, Recording]:
    """``path,camera_id,start`` rows; relative paths are relative to the manifest's folder."""
    text = path.read_text(encoding="utf-8-sig")
    reader = csv.DictReader(text.splitlines())
    missing = {"path", "camera_id", "start"} - set(reader.fieldnames or [])
    if missing:
        raise InputError(path, "line 1", f"header lacks column(s): {', '.join(sorted(missing))}")
    out: dict[Path, Recording] = {}
    for lineno, row in enumerate(reader, start=2):
        rel = (row.get("path") or "").strip()
        if not rel:
            raise InputError(path, f"line {lineno}, path", "must not be empty")
        start_text = (row.get("start") or "").strip()
        try:
            start = parse_time(path, f"line {lineno}, start", start_text)
        except InputError:
            # a naive local time is read in the site's time zone
            try:
                start = datetime.fromisoformat(start_text).replace(tzinfo=site.tz)
            except ValueError:
                raise InputError(
                    path, f"line {lineno}, start", f"not an ISO 8601 time: {start_text!r}"
                ) from None
        file = (root / rel).resolve()
        out[file] = Recording(file, (row.get("camera_id") or "").strip() or None, start, "manifest")
    return out


def discover(root: Path, site: Site) -> list[Recording]:
    """Every video-like file under ``root`` (recursively), attributed where possible."""
    root = Path(root)
    if root.is_file():
        files = [root.resolve()]
        root = root.parent
    elif root.is_dir():
        files = sorted(
            p.resolve()
            for p in root.rglob("*")
            if p.suffix.lower() in VIDEO_SUFFIXES
            and not any(part.startswith(".") for part in p.relative_to(root).parts)
        )
    else:
        raise InputError(root, None, "recordings folder not found")
    manifest_path = root / MANIFEST
    manifest = load_manifest(manifest_path, root, site) if manifest_path.is_file() else {}
    for listed in manifest:
        if listed not in files:
            files.append(listed)
    recordings = []
    for file in sorted(files):
        if file in manifest:
            recordings.append(manifest[file])
            continue
        camera, start = parse_filename(file.name, site)
        if camera is None and file.parent != root.resolve():
            camera = file.parent.name  # NVR exports are often one folder per camera
        if start is not None:
            recordings.append(Recording(file, camera, start, "filename"))
        else:  # the probe falls back on the container's creation_time tag
            recordings.append(Recording(file, camera, None, "unknown"))
    return recordings
