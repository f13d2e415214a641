"""site.toml: cameras, zones and rules, validated at the edge with errors that name the key."""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipeline.errors import InputError

DEFAULT_FILENAME_PATTERN = r"(?P<camera_id>[^_]+)_(?P<start>\d{8}T?\d{6})"

Polygon = tuple[tuple[float, float], ...]
FULL_FRAME: Polygon = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))


@dataclass(frozen=True)
class Rules:
    """Thresholds. The first seven are DESIGN.md's; the rest extend it compatibly."""

    min_gap_s: float = 2.0
    min_black_s: float = 5.0
    min_frozen_s: float = 10.0
    min_proctor_absence_s: float = 60.0
    min_station_idle_s: float = 300.0
    min_height: int = 720
    min_fps: float = 15.0
    # extensions
    min_view_changed_s: float = 10.0
    min_loop_s: float = 20.0
    max_clock_drift_s: float = 2.0
    allowed_codecs: tuple[str, ...] = ("h264", "hevc")
    max_keyframe_interval_s: float = 10.0
    # view_changed: median cell distance (findings/view.py) from which a sample shows another
    # view, and below which it is back (hysteresis); same view on real footage < 0.04
    view_changed_distance: float = 0.06
    view_restored_distance: float = 0.045
    # view_changed: a new view held from a change to the end of the batch over at least this
    # many sessions is a permanent re-aim (one finding; later sessions judged against it)
    view_persistent_sessions: int = 2
    # values of registered check settings that have no field above (pipeline.checks)
    # (name, value) pairs: hashable, like the rest of the config
    extra: tuple[tuple[str, Any], ...] = ()

    def value(self, name: str) -> Any:
        """A ``[rules]`` setting by name: a field, a value from site.toml, else its default."""
        if name != "extra" and name in _RULE_FIELDS:
            return getattr(self, name)
        for key, value in self.extra:
            if key == name:
                return value
        from pipeline.checks.registry import settings

        return settings()[name][0].default


class Limits:
    """Base of one check's limits as a frozen dataclass of numbers, field ``x`` being the
    setting ``prefix + x``: one value that its signals, finder and refinement share."""

    prefix: ClassVar[str] = ""

    @classmethod
    def of(cls, rules: Rules | None = None) -> Self:
        """From the site's ``[rules]`` (None: the declared defaults)."""
        rules = rules or Rules()
        return cls(**{f.name: float(rules.value(cls.prefix + f.name)) for f in fields(cls)})


_RULE_FIELDS = frozenset(f.name for f in fields(Rules))


@dataclass(frozen=True)
class Analysis:
    """How recordings are sampled. ``sample_every_s`` is overridden by ``--sample-every``."""

    sample_every_s: float = 2.0
    width: int = 320  # analysis frames are scaled to this width by FFmpeg's scaler
    chunk_s: float = 300.0  # one Dask task per chunk of this length, cut at keyframes
    person_anchor: str = "bottom_center"  # or "center": which box point decides zone membership
    file_timeout_s: float = 600.0  # per-file limit so one bad file cannot hang the batch
    # people only, this coarse, where no session is scheduled (unscheduled_activity); the
    # ends of what it finds are sampled again at sample_every_s; 0: not analysed
    unscheduled_every_s: float = 30.0
    # the detector runs this often inside sessions and on every sample around a change of
    # the zone counts; 0: a quarter of the shortest people rule
    people_every_s: float = 0.0


@dataclass(frozen=True)
class Review:
    pre_roll_s: float = 5.0
    post_roll_s: float = 5.0
    max_clip_s: float = 30.0  # longer events get a head clip and a tail clip


@dataclass(frozen=True)
class Camera:
    camera_id: str
    proctor_zone: Polygon = FULL_FRAME
    station_zone: Polygon | None = None
    clock_region: tuple[float, float, float, float] | None = None
    candidate_zone: Polygon | None = None  # where candidates sit (head count vs the roster)
    reference_image: Path | None = None  # the camera's usual view (else learned per batch)
    configured: bool = True  # False for a camera seen only in the schedule


@dataclass(frozen=True)
class Site:
    path: Path | None = None
    timezone: str = "UTC"
    filename_pattern: str = DEFAULT_FILENAME_PATTERN
    rules: Rules = field(default_factory=Rules)
    analysis: Analysis = field(default_factory=Analysis)
    review: Review = field(default_factory=Review)
    cameras: dict[str, Camera] = field(default_factory=dict)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def filename_regex(self) -> re.Pattern[str]:
        return re.compile(self.filename_pattern)

    def camera(self, camera_id: str) -> Camera:
        """The camera's config, or defaults (whole frame) for one missing from site.toml."""
        return self.cameras.get(camera_id) or Camera(camera_id, configured=False)

    def config_hash(self) -> str:
        """Hash of everything that changes results; keys the re-run cache."""
        payload = asdict(self)
        payload.pop("path", None)
        payload.pop("review", None)
        blob = json.dumps(payload, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def with_sample_every(self, seconds: float | None) -> Site:
        if seconds is None:
            return self
        if seconds <= 0:
            raise InputError(self.path or "--sample-every", "--sample-every", "must be > 0")
        from dataclasses import replace

        return replace(self, analysis=replace(self.analysis, sample_every_s=float(seconds)))


def _number(path: Path, key: str, value: Any, *, integer: bool = False, minimum: float = 0) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(path, key, f"must be a number, got {value!r}")
    if integer and not float(value).is_integer():
        raise InputError(path, key, f"must be a whole number, got {value!r}")
    if value < minimum:
        raise InputError(path, key, f"must be >= {minimum}, got {value!r}")
    return int(value) if integer else float(value)


def _section(path: Path, prefix: str, cls: type, raw: Any) -> Any:
    if not isinstance(raw, dict):
        raise InputError(path, prefix, "must be a table")
    known = {f.name: f for f in fields(cls)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        full = f"{prefix}.{key}"
        if key not in known:
            raise InputError(path, full, f"unknown key (known: {', '.join(sorted(known))})")
        default = known[key].default
        if isinstance(default, tuple):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise InputError(path, full, "must be a list of strings")
            values[key] = tuple(v.lower() for v in value)
        elif isinstance(default, str):
            if not isinstance(value, str):
                raise InputError(path, full, f"must be a string, got {value!r}")
            values[key] = value
        else:
            values[key] = _number(path, full, value, integer=isinstance(default, int))
    obj = cls(**values)
    if isinstance(obj, Analysis):
        if obj.person_anchor not in ("bottom_center", "center"):
            raise InputError(path, f"{prefix}.person_anchor", "must be bottom_center or center")
        for key in ("sample_every_s", "width", "chunk_s", "file_timeout_s"):
            if getattr(obj, key) <= 0:
                raise InputError(path, f"{prefix}.{key}", "must be > 0")
        if obj.people_every_s < 0:
            raise InputError(path, f"{prefix}.people_every_s", "must be >= 0 (0: automatic)")
        if obj.unscheduled_every_s < 0:
            raise InputError(
                path, f"{prefix}.unscheduled_every_s", "must be >= 0 (0: only scheduled windows)"
            )
    return obj


def _rules(path: Path, raw: Any) -> Rules:
    """``[rules]``, validated against the settings the registered checks declare."""
    from pipeline.checks.registry import parse_rules

    if not isinstance(raw, dict):
        raise InputError(path, "rules", "must be a table")
    values = parse_rules(path, raw)
    extra = tuple(sorted((k, v) for k, v in values.items() if k not in _RULE_FIELDS))
    return Rules(**{k: v for k, v in values.items() if k in _RULE_FIELDS}, extra=extra)


def _polygon(path: Path, key: str, value: Any) -> Polygon:
    if not isinstance(value, list) or len(value) < 3:
        raise InputError(path, key, "must be a list of at least 3 [x, y] points")
    points = []
    for i, point in enumerate(value):
        if (
            not isinstance(point, list)
            or len(point) != 2
            or not all(isinstance(c, int | float) and not isinstance(c, bool) for c in point)
        ):
            raise InputError(path, f"{key}[{i}]", f"must be [x, y], got {point!r}")
        x, y = float(point[0]), float(point[1])
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise InputError(path, f"{key}[{i}]", f"coordinates must be in [0, 1], got {point!r}")
        points.append((x, y))
    return tuple(points)


def _region(path: Path, key: str, value: Any) -> tuple[float, float, float, float]:
    if (
        not isinstance(value, list)
        or len(value) != 4
        or not all(isinstance(c, int | float) and not isinstance(c, bool) for c in value)
    ):
        raise InputError(path, key, "must be [x, y, w, h]")
    x, y, w, h = (float(c) for c in value)
    if not (0 <= x < 1 and 0 <= y < 1 and 0 < w <= 1 - x + 1e-9 and 0 < h <= 1 - y + 1e-9):
        raise InputError(path, key, f"must lie inside the frame in normalised units, got {value!r}")
    return (x, y, w, h)


def _camera(path: Path, camera_id: str, raw: Any) -> Camera:
    prefix = f"cameras.{camera_id}"
    if not isinstance(raw, dict):
        raise InputError(path, prefix, "must be a table")
    allowed = {"proctor_zone", "station_zone", "clock_region", "candidate_zone", "reference_image"}
    for key in raw:
        if key not in allowed:
            raise InputError(
                path, f"{prefix}.{key}", f"unknown key (known: {', '.join(sorted(allowed))})"
            )
    parsers = {
        "proctor_zone": _polygon,
        "station_zone": _polygon,
        "candidate_zone": _polygon,
        "clock_region": _region,
        "reference_image": _image,
    }
    given = {k: parse(path, f"{prefix}.{k}", raw[k]) for k, parse in parsers.items() if k in raw}
    return Camera(camera_id=camera_id, **given)  # absent keys: the Camera defaults


def _image(path: Path, key: str, value: Any) -> Path:
    """A picture file, relative to site.toml, that OpenCV can read."""
    if not isinstance(value, str) or not value:
        raise InputError(path, key, f"must be a path to an image file, got {value!r}")
    image = (path.parent / value).resolve()
    if not image.is_file():
        raise InputError(path, key, f"image not found: {image}")
    import cv2

    if cv2.imread(str(image), cv2.IMREAD_GRAYSCALE) is None:
        raise InputError(path, key, f"not a readable image: {image}")
    return image


def load_site(path: Path | None) -> Site:
    """Parse and validate site.toml; ``None`` gives the defaults."""
    if path is None:
        return Site()
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(path, None, "file not found") from None
    except UnicodeDecodeError as exc:
        raise InputError(path, None, f"not UTF-8 text ({exc.reason})") from None
    except tomllib.TOMLDecodeError as exc:
        # Python 3.11's message carries "(at line N, column M)"; 3.14 adds exc.lineno
        found = re.search(r"line (\d+)", str(exc))
        line = getattr(exc, "lineno", None) or (found.group(1) if found else "?")
        raise InputError(path, f"line {line}", f"invalid TOML: {exc}") from None
    known = {"timezone", "filename_pattern", "rules", "analysis", "review", "cameras"}
    for key in raw:
        if key not in known:
            raise InputError(path, key, f"unknown key (known: {', '.join(sorted(known))})")
    timezone = raw.get("timezone", "UTC")
    if not isinstance(timezone, str):
        raise InputError(path, "timezone", "must be a string such as 'Asia/Shanghai'")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(path, "timezone", f"unknown time zone {timezone!r}") from None
    pattern = raw.get("filename_pattern", DEFAULT_FILENAME_PATTERN)
    if not isinstance(pattern, str):
        raise InputError(path, "filename_pattern", "must be a string")
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise InputError(path, "filename_pattern", f"invalid regular expression: {exc}") from None
    missing = {"camera_id", "start"} - set(compiled.groupindex)
    if missing:
        raise InputError(path, "filename_pattern", f"needs named groups {sorted(missing)}")
    cameras_raw = raw.get("cameras", {})
    if not isinstance(cameras_raw, dict):
        raise InputError(path, "cameras", "must be a table of [cameras.<id>] tables")
    return Site(
        path=path,
        timezone=timezone,
        filename_pattern=pattern,
        rules=_rules(path, raw.get("rules", {})),
        analysis=_section(path, "analysis", Analysis, raw.get("analysis", {})),
        review=_section(path, "review", Review, raw.get("review", {})),
        cameras={cid: _camera(path, cid, c) for cid, c in cameras_raw.items()},
    )
