"""Burned-in clock: OCR'd time minus the file timeline (``clock_offset_s``), read sparingly.

OCR costs ~100x a sample's other signals, so it reads only what proves continuity: the
chunk's last sample (and the file's first), plus one read every ``READ_EVERY_S`` inside long
chunks, one crop at a time (its shape never changes, so the model runs at its fastest; a
new batch shape costs more than it saves). Consecutive chunks' last reads prove the clock
ran on between them; where two reads of one chunk disagree by more than
``rules.max_clock_drift_s`` the samples between them are bisected until the jump sits
between two adjacent samples, and a jump between two chunks' reads is placed later by
:func:`pipeline.refine.refine_events`, which bisects the decoded keyframes in between. A
read is cached by the crop's pixels, so a frozen or repeated clock is read once. Other
samples stay NaN.

The clock is read from the native-resolution luma crop the sampler keeps
(:attr:`FrameBatch.clock`): the camera's ``clock_region`` when configured, else the top and
bottom bands, where the text box that parses as a time is located once per camera. OCR is
rapidocr-onnxruntime (models inside the wheel; no download at run time); recognition only,
once the box is known.

The clock shows local time: the site's timezone is taken from ``AnalysisContext.timezone``.
When unknown, offsets are reduced modulo 15 minutes (every UTC offset is a multiple of it).
A clock that shows only the time of day is matched to the nearest day.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import threading
from collections import OrderedDict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from pipeline.media.frames import FrameBatch
from pipeline.signals import AnalysisContext

READ_EVERY_S = 300.0
MIN_SCORE = 0.6
_CACHE_SIZE = 4096

_DATE = re.compile(r"(\d{4})[-/.年]?\s*(\d{1,2})[-/.月]?\s*(\d{1,2})")
_TIME = re.compile(r"(\d{1,2})\s*[:.]\s*(\d{2})\s*[:.]\s*(\d{2})")
_FIX = str.maketrans(
    {
        "O": "0",
        "o": "0",
        "D": "0",
        "I": "1",
        "l": "1",
        "|": "1",
        "S": "5",
        "B": "8",
        "Z": "2",
        "：": ":",
    }
)

_engine_lock = threading.Lock()
_engine = None
_text_cache: OrderedDict[bytes, tuple[str, float]] = OrderedDict()
_located: dict[tuple[str, tuple[int, ...]], tuple[int, int, int, int] | None] = {}


def ocr_engine():
    """One RapidOCR per process, single-threaded (Dask runs one task per core).

    The thread counts go in as the global settings: RapidOCR copies its global
    ``intra_op_num_threads`` over the per-model ones (``rec_intra_op_num_threads`` is lost),
    and its default leaves onnxruntime a pool of one thread per core that spins after every
    run: measured, 1.9 s of a second core during a 1-worker scan of 16 files."""
    global _engine
    with _engine_lock:
        if _engine is None:
            from rapidocr_onnxruntime import RapidOCR

            engine = RapidOCR(
                det_limit_side_len=960,
                det_limit_type="max",
                intra_op_num_threads=1,
                inter_op_num_threads=1,
            )
            for part in (engine.text_det.infer, engine.text_cls.infer, engine.text_rec.session):
                part.session = _without_memory_pattern(part.session)
            _engine = engine
        return _engine


def _without_memory_pattern(session):
    """The same onnxruntime session, built again without its memory pattern.

    The OCR models take any input size (a text line's width, a batch of lines), and with
    onnxruntime's default memory pattern every new input shape is planned anew on its first
    run: measured 0.5 s for a first batch of six 48x532 lines on the 2-core machine (0.23 s
    once planned), paid by every worker for every new batch shape, on its first chunk. Without
    the pattern a new shape costs nothing extra and the steady runs are as fast; the results
    are the same (allocation only). RapidOCR offers no setting for it."""
    import onnxruntime as ort

    path = getattr(session, "_model_path", None)
    old = session.get_session_options()
    if not path or not old.enable_mem_pattern:
        return session
    options = ort.SessionOptions()
    options.log_severity_level = old.log_severity_level
    options.enable_cpu_mem_arena = True
    options.graph_optimization_level = old.graph_optimization_level
    options.intra_op_num_threads = old.intra_op_num_threads
    options.inter_op_num_threads = old.inter_op_num_threads
    options.enable_mem_pattern = False
    return ort.InferenceSession(path, options, providers=session.get_providers())


def recognise(crop: np.ndarray) -> tuple[str, float]:
    """Text and score of one text-line crop (recognition only), cached by its pixels."""
    return recognise_many([crop])[0]


def recognise_many(crops: list[np.ndarray]) -> list[tuple[str, float]]:
    """Recognise several text-line crops in one batch (one model run per six lines)."""
    keys = [
        hashlib.blake2b(c.tobytes(), digest_size=16).digest() + str(c.shape).encode() for c in crops
    ]
    todo = [i for i, k in enumerate(keys) if k not in _text_cache]
    if todo:
        images = [np.ascontiguousarray(np.repeat(crops[i][:, :, None], 3, axis=2)) for i in todo]
        engine = ocr_engine()
        recogniser = getattr(engine, "text_rec", None)
        if recogniser is not None:  # batched recognition, as RapidOCR does after detection
            results = [(str(t), float(sc)) for t, sc, *_ in recogniser(images)[0]]
        else:
            results = []
            for image in images:
                res, _ = engine(image, use_det=False, use_cls=False, use_rec=True)
                results.append((res[0][0], float(res[0][1])) if res else ("", 0.0))
        for i, result in zip(todo, results, strict=True):
            _text_cache[keys[i]] = result
        while len(_text_cache) > _CACHE_SIZE:
            _text_cache.popitem(last=False)
    out = []
    for k in keys:
        _text_cache.move_to_end(k)
        out.append(_text_cache[k])
    return out


def parse_clock(text: str) -> tuple[tuple[int, int, int] | None, tuple[int, int, int]] | None:
    """``((y, m, d) or None, (H, M, S))`` from OCR text, or None when no valid time is in it."""
    fixed = text.translate(_FIX)
    times = list(_TIME.finditer(fixed))
    if not times:
        return None
    tm = times[-1]
    hh, mm, ss = (int(g) for g in tm.groups())
    if hh > 23 or mm > 59 or ss > 59:
        return None
    date = None
    dm = _DATE.search(fixed[: tm.start()])
    if dm:
        y, mo, d = (int(g) for g in dm.groups())
        if 1990 <= y <= 2100 and 1 <= mo <= 12 and 1 <= d <= 31:
            date = (y, mo, d)
    return date, (hh, mm, ss)


def clock_offset(
    parsed: tuple[tuple[int, int, int] | None, tuple[int, int, int]],
    expected_utc: datetime,
    tz: ZoneInfo | None,
) -> float | None:
    """Seconds the burned-in clock is ahead of the file timeline at ``expected_utc``."""
    date, (hh, mm, ss) = parsed
    local = expected_utc.astimezone(tz) if tz is not None else expected_utc
    naive_expected = local.replace(tzinfo=None)
    if date is not None:
        try:
            shown = datetime(*date, hh, mm, ss)
        except ValueError:
            return None
        candidates = [shown]
    else:
        base = datetime(local.year, local.month, local.day, hh, mm, ss)
        candidates = [base + timedelta(days=k) for k in (-1, 0, 1)]
    offsets = [(c - naive_expected).total_seconds() for c in candidates]
    offset = min(offsets, key=abs)
    if tz is None:  # clock in an unknown zone: drop whole quarter hours
        offset = (offset + 450.0) % 900.0 - 450.0
    return offset


def _locate(band: np.ndarray) -> tuple[int, int, int, int] | None:
    """Box ``(x0, y0, x1, y1)`` in the band image of the text that reads as a clock."""
    image = np.ascontiguousarray(np.repeat(band[:, :, None], 3, axis=2))
    result, _ = ocr_engine()(image, use_cls=False)
    best = None
    for box, text, score in result or []:
        if float(score) < MIN_SCORE or parse_clock(text) is None:
            continue
        xs = [p[0] for p in box]
        ys = [p[1] for p in box]
        pad = max(2, int(0.15 * (max(ys) - min(ys))))
        cand = (
            max(0, int(min(xs)) - pad),
            max(0, int(min(ys)) - pad),
            min(band.shape[1], int(max(xs)) + pad),
            min(band.shape[0], int(max(ys)) + pad),
        )
        if best is None or float(score) > best[0]:
            best = (float(score), cand)
    return best[1] if best else None


class ClockSignals:
    """``clock_offset_s``: OCR'd burned-in clock minus the file timeline; NaN where not read."""

    name = "clock"
    columns = ("clock_offset_s",)

    def __call__(self, batch: FrameBatch, ctx: AnalysisContext) -> dict[str, np.ndarray]:
        n = len(batch)
        out = np.full(n, np.nan, np.float32)
        file_start = getattr(ctx, "file_start", None)
        if n == 0 or batch.clock is None or file_start is None:
            return {"clock_offset_s": out}
        tz_name = getattr(ctx, "timezone", None)
        tz = ZoneInfo(tz_name) if tz_name else None
        crops = batch.clock
        box: tuple[int, int, int, int] | None = None
        if batch.clock_region is None:
            # an NVR draws its clock in the same place in every file of a camera: locate it
            # once per camera (and frame size) and worker, found or not
            camera_id = getattr(getattr(ctx, "camera", None), "camera_id", None)
            key = (camera_id or batch.source_file, tuple(crops.shape[1:]))
            if key not in _located:
                _located[key] = self._locate_in(crops)
            box = _located[key]
            if box is None:
                return {"clock_offset_s": out}
        reader = _Reader(crops, box, np.asarray(batch.t_s), file_start, tz)
        tolerance = max(1.5, 0.75 * float(ctx.rules.max_clock_drift_s))
        t = np.asarray(batch.t_s)
        every = float(ctx.analysis.sample_every_s)
        inner = np.searchsorted(t, np.arange(t[0] + READ_EVERY_S, t[-1], READ_EVERY_S))
        first = {0} if t[0] < every else set()  # the file's first sample (its first chunk)
        wanted = sorted({n - 1, *first, *(int(i) for i in inner)})
        reader.prefetch(wanted)
        reads = [i for i in (reader.read_near(i, n) for i in wanted) if i is not None]
        reads = sorted(set(reads))
        stack = list(itertools.pairwise(reads))
        while stack:
            a, b = stack.pop()
            if b - a <= 1 or abs(reader.values[a] - reader.values[b]) <= tolerance:
                continue
            mid = (a + b) // 2
            got = reader.read(mid)
            if got is None:
                # unreadable middle: try its neighbours before giving up on this stretch
                got = next((j for j in (mid + 1, mid - 1) if a < j < b and reader.read(j)), None)
                if got is None:
                    continue
                mid = got
            stack.extend([(a, mid), (mid, b)])
        for i, v in reader.values.items():
            out[i] = v
        return {"clock_offset_s": out}

    @staticmethod
    def _locate_in(crops: np.ndarray) -> tuple[int, int, int, int] | None:
        """Text detection is the costly part of OCR: run it once per file, on the first
        sample whose bands are not blank."""
        for crop in crops:
            if float(crop.std()) > 8.0:
                return _locate(crop)
        return None


class _Reader:
    """Reads sample ``i``'s clock once and remembers the offset."""

    def __init__(self, crops, box, t_s, file_start: datetime, tz: ZoneInfo | None) -> None:
        self.crops, self.box, self.t_s, self.start, self.tz = crops, box, t_s, file_start, tz
        self.values: dict[int, float] = {}
        self.failed: set[int] = set()

    def crop(self, i: int) -> np.ndarray:
        crop = self.crops[i]
        if self.box is not None:
            x0, y0, x1, y1 = self.box
            crop = crop[y0:y1, x0:x1]
        return crop

    def readable(self, i: int) -> bool:
        """A dark or flat crop holds no clock: not worth an OCR run."""
        crop = self.crop(i)
        return bool(crop.size) and float(crop.std()) > 8.0

    def prefetch(self, indices: list[int]) -> None:
        """OCR the crops of ``indices`` in one batched run (the recogniser takes six lines
        per run: measured 28 ms a line in pairs, 37 ms one by one); :meth:`read` then finds
        their text in the cache."""
        todo = [i for i in indices if i not in self.values and self.readable(i)]
        if len(todo) > 1:
            recognise_many([self.crop(i) for i in todo])

    def read(self, i: int) -> int | None:
        if i in self.values:
            return i
        if i in self.failed:
            return None
        value = None
        if self.readable(i):
            text, score = recognise(self.crop(i))
            parsed = parse_clock(text) if score >= MIN_SCORE else None
            if parsed is not None:
                expected = self.start + timedelta(seconds=float(self.t_s[i]))
                value = clock_offset(parsed, expected, self.tz)
        if value is None:
            self.failed.add(i)
            return None
        self.values[i] = value
        return i

    def read_near(self, i: int, n: int) -> int | None:
        """Read ``i``, or the closest of the next few samples when ``i`` is unreadable."""
        for j in (i, i - 1, i + 1):  # a few tries: a clock that is not there costs OCR time
            if 0 <= j < n and self.read(j) is not None:
                return j
        return None
