"""``examaudit crosscheck``: footage filed in one evidence folder that repeats another's.

A single scan only sees its own batch; the same practical exam filed for sessions at two
centres (or in two months' batches) shows only when their fingerprints meet. Each scan keeps
``fingerprints.parquet`` (per sample: the motion grid, the picture hash, where and when), and
the same motion index as the in-batch loop check (:mod:`pipeline.findings.motion_index`:
fixed hyperplanes, banded join) joins all folders at once; stretches within one folder are
left to that folder's own scan. The later footage is the copy (``b_*``), the earlier the
original (``a_*``).

Not yet done (issue 15 part 3): frame-by-frame confirmation where the recordings are still
reachable (``details.verified`` is false), the Dask job for hundreds of folders, the page.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa

from pipeline import evidence as store
from pipeline import schemas
from pipeline.findings.loops import sample_step, search
from pipeline.findings.motion_index import grid_vectors
from pipeline.findings.picture import utc


def fingerprints(folder: Path) -> pa.Table:
    """A folder's fingerprints (from its timeline where the scan predates the file)."""
    path = folder / "fingerprints.parquet"
    if path.is_file():
        return store.read_table(path).select(schemas.FINGERPRINTS.names)
    timeline = store.read_table(folder / "timeline.parquet")
    if "motion_grid" not in timeline.column_names:
        raise ValueError(f"{folder}: scanned before motion fingerprints were kept; scan again")
    return timeline.select(schemas.FINGERPRINTS.names).cast(schemas.FINGERPRINTS)


def crosscheck(evidence: Sequence[Path], min_loop_s: float = 20.0) -> pa.Table:
    """Rows of ``schemas.CROSSCHECK`` for every stretch of at least ``min_loop_s`` seen in
    two different evidence folders."""
    tables = []
    for i, folder in enumerate(evidence):
        table = fingerprints(Path(folder)).filter(
            pa.compute.is_valid(pa.compute.field("motion_grid"))
        )
        tables.append(table.append_column("folder", pa.array([i] * table.num_rows, pa.int32())))
    if not tables or not sum(t.num_rows for t in tables):
        return schemas.CROSSCHECK.empty_table()
    fp = pa.concat_tables(tables)
    folder = fp["folder"].to_numpy()
    files = np.asarray(fp["source_file"].to_pylist(), dtype=object)
    t = fp["t"].cast(pa.int64()).to_numpy(zero_copy_only=False) / 1000.0
    tf = fp["t_file_s"].to_numpy(zero_copy_only=False)
    # a file is (folder, name): ranked by its first time, samples in file order
    keys = [f"{k}\0{n}" for k, n in zip(folder, files, strict=True)]
    first: dict[str, float] = {}
    for k, ti in zip(keys, t, strict=True):
        first[k] = min(first.get(k, ti), ti)
    rank = {k: r for r, k in enumerate(sorted(first, key=lambda k: (first[k], k)))}
    file_rank = np.fromiter((rank[k] for k in keys), dtype=np.int64, count=len(keys))
    order = np.lexsort((tf, file_rank))
    file_rank, folder, files, t, tf = (a[order] for a in (file_rank, folder, files, t, tf))
    sessions = np.asarray(fp["session_id"].to_pylist(), dtype=object)[order]
    cameras = np.asarray(fp["camera_id"].to_pylist(), dtype=object)[order]
    grids = [fp["motion_grid"][int(i)].as_py() for i in order]
    u, moving = grid_vectors(grids)
    step = sample_step(tf, file_rank)
    rows = []
    for c0, c1, o0, sim, matched, lag in search(u, moving, tf, file_rank, min_loop_s):
        if folder[c0] == folder[o0]:
            continue  # within one folder: that scan's own looped_footage
        duration = float(tf[c1] - tf[c0] + step)
        b_start = t[c0] - step / 2
        a_start = t[o0] - (tf[o0] - (tf[c0] - lag)) - step / 2
        rows.append(
            {
                "a_evidence": str(evidence[folder[o0]]),
                "a_session_id": sessions[o0],
                "a_camera_id": cameras[o0],
                "a_start": utc(a_start),
                "a_end": utc(a_start + duration),
                "b_evidence": str(evidence[folder[c0]]),
                "b_session_id": sessions[c0],
                "b_camera_id": cameras[c0],
                "b_start": utc(b_start),
                "b_end": utc(b_start + duration),
                "duration_s": round(duration, 3),
                "confidence": 0.9 if sim >= 0.85 else 0.7,
                "details": json.dumps(
                    {
                        "a_file": files[o0],
                        "a_t_file_s": round(float(tf[c0] - lag - step / 2), 3),
                        "b_file": files[c0],
                        "b_t_file_s": round(float(tf[c0] - step / 2), 3),
                        "lag_s": round(float(lag), 3),
                        "motion_similarity": round(float(sim), 3),
                        "changing_matches": int(matched),
                        "verified": False,
                    }
                ),
            }
        )
    return pa.Table.from_pylist(rows, schema=schemas.CROSSCHECK)


def write_crosscheck(evidence: Sequence[Path], out: Path, min_loop_s: float = 20.0) -> pa.Table:
    """``crosscheck.parquet`` in ``out`` (written atomically)."""
    table = crosscheck(evidence, min_loop_s)
    Path(out).mkdir(parents=True, exist_ok=True)
    store.write_table(Path(out) / "crosscheck.parquet", table)
    return table
