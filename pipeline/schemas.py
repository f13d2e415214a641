"""Arrow schemas of the evidence tables: the one place their names and types are defined.

DESIGN.md is the contract; ``tests/test_schemas.py`` checks written files against it. Extra
timeline signals may be appended after the contract columns, never inserted or renamed.
"""

from __future__ import annotations

import pyarrow as pa

TS = pa.timestamp("ms", tz="UTC")

FILES = pa.schema(
    [
        ("path", pa.string()),
        ("sha256", pa.string()),
        ("size_bytes", pa.int64()),
        ("camera_id", pa.string()),
        ("start", TS),
        ("end", TS),
        ("duration_s", pa.float64()),
        ("container", pa.string()),
        ("codec", pa.string()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("fps", pa.float64()),
        ("keyframe_interval_s", pa.float64()),
        ("error", pa.string()),
    ]
)

SESSIONS = pa.schema(
    [
        ("session_id", pa.string()),
        ("centre_id", pa.string()),
        ("room_id", pa.string()),
        ("camera_id", pa.string()),
        ("exam_type", pa.string()),
        ("scheduled_start", TS),
        ("scheduled_end", TS),
        ("recorded_s", pa.float64()),
        ("coverage", pa.float64()),
        ("longest_gap_s", pa.float64()),
        ("proctor_presence", pa.float64()),
        ("longest_proctor_absence_s", pa.float64()),
        ("station_activity", pa.float64()),
        ("verdict", pa.string()),
        ("event_count", pa.int32()),
        # robust head counts (the largest count seen in at least half of the analysed samples;
        # null where not measured: no people analysis, no usable picture, no candidate_zone)
        ("proctors_seen", pa.int32()),
        ("candidates_seen", pa.int32()),
        # scheduled seconds whose picture could not show people (black, frozen, turned away):
        # counted as neither presence nor absence (an extension, after the contract columns)
        ("unverifiable_s", pa.float64()),
        # extension: False for a session derived from the recordings (scan --no-schedule)
        ("planned", pa.bool_()),
    ]
)

EVENTS = pa.schema(
    [
        ("event_id", pa.string()),
        ("session_id", pa.string()),
        ("camera_id", pa.string()),
        ("kind", pa.string()),
        ("start", TS),
        ("end", TS),
        ("duration_s", pa.float64()),
        ("confidence", pa.float32()),
        ("details", pa.string()),
        ("source_file", pa.string()),
        ("clip", pa.string()),
        ("thumb", pa.string()),
    ]
)

TIMELINE_CONTRACT = pa.schema(
    [
        ("session_id", pa.string()),
        ("camera_id", pa.string()),
        ("t", TS),
        ("persons", pa.int16()),
        ("persons_in_proctor_zone", pa.int16()),
        ("station_motion", pa.float32()),
        ("brightness", pa.float32()),
        ("motion", pa.float32()),
    ]
)

# Further signals, appended after the contract columns (all nullable).
PERSON_BOXES = pa.list_(
    pa.struct([(k, pa.float32()) for k in ("x1", "y1", "x2", "y2", "score", "motion")])
)

TIMELINE_EXTRA = pa.schema(
    [
        ("source_file", pa.string()),
        ("t_file_s", pa.float64()),  # offset in the source file
        ("contrast", pa.float32()),  # luma standard deviation
        ("frame_diff", pa.float32()),  # mean abs difference to the previous sample
        ("view_similarity", pa.float32()),  # 1 - distance to the camera's usual view (0-1), batch
        ("fingerprint", pa.uint64()),  # 64-bit perceptual hash for loop search
        ("clock_offset_s", pa.float32()),  # OCR'd clock minus file timeline
        ("persons_in_station_zone", pa.int16()),
        ("noise", pa.float32()),  # spatial sensor-noise estimate (grey levels): frozen floor
        ("layout", pa.uint64()),  # 8x8 block average hash: where things are, for view changes
        ("motion_cells", pa.uint64()),  # 8x8 cells that changed since the previous sample
        ("station_hands_on", pa.int16()),  # people in the station zone moving (hands-on work)
        # every person box of the sample (normalised xyxy), its score and the motion around it:
        # the session-level static look-alike filter (pipeline.findings.people) reads it
        ("person_boxes", PERSON_BOXES),
        # 16x12 cells x 4 gradient orientations of log luma (signals/view.py): the camera's view
        ("view_signature", pa.binary(768)),
        # the detector ran on this sample (else its people hold the detected sample before it:
        # coarse to fine, pipeline/signals/people.py)
        ("people_detected", pa.bool_()),
        # keyframe samples: smallest frame_diff to the picture shown before (signals/picture.py
        # keyframe_repeats); <= rules.frozen_repeat_diff a stopped feed, not a still room; NaN
        # elsewhere
        ("key_repeat", pa.float32()),
        ("key_repeat_s", pa.float32()),  # ... and how many seconds back that picture was
        # people whose anchor lies in the camera's candidate_zone (null: no such zone)
        ("persons_in_candidate_zone", pa.int16()),
        # 8x8 cells' share of the motion energy since the previous sample (0-255, busiest cell
        # 255, all 0 when still): re-used footage is found by what moves (findings/loops.py)
        ("motion_grid", pa.binary(64)),
    ]
)

TIMELINE = pa.schema(list(TIMELINE_CONTRACT) + list(TIMELINE_EXTRA))

# fingerprints.parquet: the timeline's per-sample picture fingerprints, kept small so that
# ``crosscheck`` joins many evidence folders without reading their whole timelines
FINGERPRINTS = pa.schema(
    [
        ("session_id", pa.string()),
        ("camera_id", pa.string()),
        ("t", TS),
        ("source_file", pa.string()),
        ("t_file_s", pa.float64()),
        ("fingerprint", pa.uint64()),
        ("motion_grid", pa.binary(64)),
    ]
)

# crosscheck.parquet: footage of evidence folder b that repeats footage of folder a
CROSSCHECK = pa.schema(
    [
        ("a_evidence", pa.string()),
        ("a_session_id", pa.string()),
        ("a_camera_id", pa.string()),
        ("a_start", TS),
        ("a_end", TS),
        ("b_evidence", pa.string()),
        ("b_session_id", pa.string()),
        ("b_camera_id", pa.string()),
        ("b_start", TS),
        ("b_end", TS),
        ("duration_s", pa.float64()),
        ("confidence", pa.float32()),
        ("details", pa.string()),
    ]
)

# views.parquet (an extension): each camera's reference views, in time order; a later
# ``scan --reference EVIDENCE`` pins each camera's last one as its usual view
VIEWS = pa.schema(
    [
        ("camera_id", pa.string()),
        ("epoch", pa.int16()),  # 0 the usual view, 1.. each permanent re-aim
        ("since", TS),  # null: from the start of the batch
        ("source", pa.string()),  # batch | session | reference_image | evidence
        ("origin", pa.string()),  # the sessions it was learned from, or the image / folder
        ("signature", pa.binary(768)),  # signals/view.py structure signature
        ("thumb", pa.string()),  # picture of it, relative to EVIDENCE
    ]
)

REVIEWS = pa.schema(
    [
        ("event_id", pa.string()),
        ("verdict", pa.string()),  # confirmed | dismissed | note
        ("note", pa.string()),
        ("reviewer", pa.string()),
        ("reviewed_at", TS),  # UTC, like every timestamp in the evidence
        # the hash chain (append-only log): position, the previous row's hash, this row's hash
        ("seq", pa.int64()),
        ("prev_hash", pa.string()),
        ("row_hash", pa.string()),
    ]
)

# `examaudit summary`: roll-ups across evidence folders (hours are scheduled exam hours)
SUMMARY_MONTHS = pa.schema(
    [
        ("evidence", pa.string()),
        ("centre_id", pa.string()),
        ("month", pa.string()),  # local YYYY-MM in the folder's site time zone
        ("sessions", pa.int64()),
        ("sessions_flagged", pa.int64()),
        ("sessions_missing", pa.int64()),
        ("scheduled_h", pa.float64()),
        ("recorded_h", pa.float64()),
        ("findings", pa.int64()),
        ("reviewed", pa.int64()),
        ("confirmed", pa.int64()),
        ("findings_per_10h", pa.float64()),
        ("reviewed_share", pa.float64()),
    ]
)

SUMMARY_ITEMS = pa.schema(
    [
        ("centre_id", pa.string()),
        ("month", pa.string()),
        ("item", pa.string()),  # checklist item code, e.g. 二(二)6
        ("findings", pa.int64()),
        ("findings_per_10h", pa.float64()),
    ]
)

SUMMARY_WORST = pa.schema(
    [
        ("evidence", pa.string()),
        ("centre_id", pa.string()),
        ("room_id", pa.string()),
        ("session_id", pa.string()),
        ("exam_type", pa.string()),
        ("scheduled_start", TS),
        ("coverage", pa.float64()),
        ("verdict", pa.string()),
        ("findings", pa.int64()),
        ("finding_s", pa.float64()),
    ]
)

TABLES: dict[str, pa.Schema] = {
    "files": FILES,
    "sessions": SESSIONS,
    "events": EVENTS,
    "timeline": TIMELINE,
}


def empty(schema: pa.Schema) -> pa.Table:
    # not schema.empty_table(): that converts through pyarrow's pandas shim, importing pandas
    # (0.5 s) in the client just before the first chunk is submitted
    return pa.Table.from_batches([], schema=schema)
