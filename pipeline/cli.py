"""Command line: `examaudit samples|scan|report|review|archive-check|keygen` (DESIGN.md).

Exit status: 0 the run completed (findings are not errors), 1 some input could not be read
or the archive check found problems, 2 bad usage or invalid config/schedule.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from pipeline import __version__
from pipeline.errors import EvidenceWriteError, InputError


def _positive(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return number


def _workers(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return number


def _detector(value: str) -> str:
    if value in ("auto", "ssdlite", "hog", "yolo") or value.startswith("yolo:"):
        return value
    raise argparse.ArgumentTypeError(
        f"must be auto, ssdlite, hog, yolo or yolo:WEIGHTS, got {value!r}"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="examaudit", description="Audit exam-room video recordings and write evidence."
    )
    parser.add_argument("--version", action="version", version=f"examaudit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("samples", help="write a synthetic exam centre with injected faults")
    p.add_argument("out_dir", type=Path)
    p.add_argument("--seed", type=int, default=0)

    p = sub.add_parser("scan", help="analyse recordings and write evidence")
    p.add_argument("recordings", type=Path)
    p.add_argument("--schedule", type=Path)
    p.add_argument("--site", type=Path)
    p.add_argument("--out", type=Path, default=Path("evidence"))
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--workers", type=_workers, help="local worker processes (default: all cores)"
    )
    where.add_argument("--scheduler", help="Dask scheduler address, e.g. tcp://host:8786")
    p.add_argument(
        "--detector", type=_detector, default="auto", help="auto|ssdlite|hog|yolo[:WEIGHTS]"
    )
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--sample-every", type=_positive, metavar="SECONDS")
    p.add_argument(
        "--checks", default="all", help="comma list of coverage,integrity,people (default: all)"
    )
    p.add_argument(
        "--progress",
        action="store_true",
        default=None,
        help="show progress even when not on a terminal",
    )
    p.add_argument("--no-clips", action="store_true", help="skip clips and thumbnails")
    p.add_argument("--no-report", action="store_true", help="skip report/index.html")
    p.add_argument(
        "--no-schedule",
        action="store_true",
        help="no exam plan: derive sessions from the recordings (people present)",
    )
    p.add_argument("--sign-key", type=Path, metavar="KEY", help="Ed25519 key that signs the seal")
    p.add_argument(
        "--reference",
        type=Path,
        metavar="EVIDENCE",
        help="cameras' usual views from an earlier evidence folder (its views.parquet)",
    )

    p = sub.add_parser("report", help="write report/index.html from evidence")
    p.add_argument("evidence", type=Path)
    p.add_argument("--lang", choices=("zh", "en"), default="zh")
    p.add_argument("--sign-key", type=Path, metavar="KEY", help="re-sign the seal with this key")

    p = sub.add_parser("review", help="serve the review app for inspectors")
    p.add_argument("evidence", type=Path)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--sign-key", type=Path, metavar="KEY", help="sign the seal on every verdict")

    p = sub.add_parser("checks", help="list every check, its kinds, columns and settings")
    p.add_argument("--lang", choices=("zh", "en"), default="en")
    p.add_argument("--write-readme", type=Path, metavar="README", help="rewrite its settings table")

    p = sub.add_parser("archive-check", help="verify evidence and recordings against the manifest")
    p.add_argument("evidence", type=Path)
    p.add_argument("--schedule", type=Path)
    p.add_argument("--public-key", type=Path, metavar="PUB", help="verify the seal's signature")

    p = sub.add_parser("keygen", help="write an Ed25519 key pair for signing evidence")
    p.add_argument("dir", type=Path)

    p = sub.add_parser("export", help="the problem list (问题清单) as XLSX and/or CSV")
    p.add_argument("evidence", type=Path)
    p.add_argument("--xlsx", type=Path, metavar="FILE")
    p.add_argument("--csv", type=Path, metavar="FILE")
    p.add_argument("--lang", choices=("zh", "en"), default="zh")
    p.add_argument(
        "--sign-key", type=Path, metavar="KEY", help="re-sign the seal (a list saved inside)"
    )

    p = sub.add_parser("summary", help="roll up many evidence folders (centres, months)")
    p.add_argument("evidence", type=Path, nargs="+")
    p.add_argument("--out", type=Path, required=True, metavar="DIR")
    p.add_argument("--xlsx", type=Path, metavar="FILE")
    p.add_argument("--lang", choices=("zh", "en"), default="zh")

    p = sub.add_parser("crosscheck", help="footage repeated across evidence folders")
    p.add_argument("evidence", type=Path, nargs="+")
    p.add_argument("--out", type=Path, required=True, metavar="DIR")
    p.add_argument("--min-loop-s", type=float, default=20.0, metavar="SECONDS")
    p.add_argument("--lang", choices=("zh", "en"), default="zh")
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--workers", type=_workers, metavar="N", help="local worker processes (default: threads)"
    )
    g.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler address")
    return parser


def _err(message: str) -> None:
    print(f"examaudit: error: {message}", file=sys.stderr)


def cmd_samples(args: argparse.Namespace) -> int:
    from pipeline.samples import generate

    out = generate(args.out_dir, args.seed)
    print(f"wrote sample exam centre to {out}")
    return 0


def cmd_scan(args: argparse.Namespace) -> int:
    from pipeline.worker_init import leave_out_unused

    leave_out_unused()  # pyarrow would import pandas on its first conversion: 0.2-0.5 s
    from pipeline.checks.registry import parse_checks
    from pipeline.scan import ScanOptions, run_scan

    try:
        checks = parse_checks(args.checks)
    except ValueError as exc:
        _err(f"--checks: {exc}")
        return 2
    opts = ScanOptions(
        recordings=args.recordings,
        schedule=args.schedule,
        site=args.site,
        out=args.out,
        workers=args.workers,
        scheduler=args.scheduler,
        detector=args.detector,
        device=args.device,
        sample_every=args.sample_every,
        checks=checks,
        progress=args.progress,
        clips=not args.no_clips,
        report=not args.no_report,
        no_schedule=args.no_schedule,
        sign_key=args.sign_key,
        reference=args.reference,
    )
    result = run_scan(opts, say=lambda m: print(m, file=sys.stderr))
    print(
        f"{result.files} files ({result.unreadable} unreadable), {result.sessions} sessions, "
        f"{result.events} findings -> {result.evidence}"
    )
    return result.exit_code


def _unsigned_warning(evidence: Path, key: object) -> None:
    from pipeline.seal import MANIFEST, read_manifest

    if key is None and (evidence / MANIFEST).is_file() and "signature" in read_manifest(evidence):
        _err("warning: the seal is signed but this change is not; pass --sign-key KEY")


def cmd_report(args: argparse.Namespace) -> int:
    from pipeline import seal
    from pipeline.evidence import evidence_lock
    from pipeline.review.report import write_report

    key = seal.signing_key(args.sign_key, args.evidence)
    with evidence_lock(args.evidence):
        path = write_report(args.evidence, lang=args.lang)
        sealed = seal.reseal(args.evidence, [path], sign_key=key)
    print(f"wrote {path}" + (" (sealed as a derived view)" if sealed else ""))
    _unsigned_warning(args.evidence, key)
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    from pipeline import seal
    from pipeline.review.server import serve

    key = seal.signing_key(args.sign_key, args.evidence)
    _unsigned_warning(args.evidence, key)
    serve(args.evidence, host=args.host, port=args.port, sign_key=key)
    return 0


def cmd_keygen(args: argparse.Namespace) -> int:
    from pipeline.signing import keygen

    private, public = keygen(args.dir)
    print(f"wrote {private} (private, mode 0600: keep it off the evidence) and {public}")
    return 0


def cmd_archive_check(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from pipeline.archive import audit_archive
    from pipeline.signing import load_public_key

    public = load_public_key(args.public_key) if args.public_key else None
    problems, notes = audit_archive(args.evidence, args.schedule, public)
    console = Console()
    for note in notes:
        console.print(f"note: {note}", markup=False)
    if not problems:
        console.print(f"archive check passed: {args.evidence}", markup=False)
        return 0
    table = Table(title=f"archive check: {len(problems)} problem(s) in {args.evidence}")
    for column in ("what", "name", "status", "detail"):
        table.add_column(column)
    for p in problems:
        table.add_row(p.what, p.name, p.status, p.detail)
    console.print(table)
    return 1


def cmd_export(args: argparse.Namespace) -> int:
    from pipeline.inspectorate.export import export_problem_list

    if args.xlsx is None and args.csv is None:
        _err("export: give --xlsx FILE and/or --csv FILE")
        return 2
    if not (args.evidence / "events.parquet").is_file():
        raise InputError(args.evidence, None, "not an evidence folder (no events.parquet)")
    from pipeline import seal
    from pipeline.evidence import evidence_lock

    key = seal.signing_key(args.sign_key, args.evidence)
    root = args.evidence.resolve()
    with evidence_lock(args.evidence):
        paths = export_problem_list(
            args.evidence, xlsx=args.xlsx, csv_path=args.csv, lang=args.lang
        )
        # a list saved in the evidence folder is a view of it: sealed as derived, not unknown
        inside = [p for p in paths if p.resolve().is_relative_to(root)]
        sealed = seal.reseal(args.evidence, inside, sign_key=key) if inside else None
    for path in paths:
        note = " (sealed as a derived view)" if sealed and path in inside else ""
        print(f"wrote {path}{note}")
    if inside:
        _unsigned_warning(args.evidence, key)
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    from pipeline.inspectorate.summary import write_summary

    r = write_summary(args.evidence, args.out, xlsx=args.xlsx, lang=args.lang)
    print(
        f"{r.folders.num_rows} evidence folders, {r.months.num_rows} centre-months -> "
        f"{args.out / 'index.html'}" + (f", {args.xlsx}" if args.xlsx else "")
    )
    return 0


def cmd_crosscheck(args: argparse.Namespace) -> int:
    from pipeline.inspectorate.crosscheck import write_crosscheck

    try:
        result = write_crosscheck(
            args.evidence,
            args.out,
            args.min_loop_s,
            workers=args.workers,
            scheduler=args.scheduler,
            lang=args.lang,
        )
    except ValueError as exc:
        _err(str(exc))
        return 2
    for problem in result.problems:
        _err(f"skipped {problem}")
    for note in result.notes:
        print(f"note: {note}")
    rows = result.table.to_pylist()
    verified = sum(bool(json.loads(r["details"]).get("verified")) for r in rows)
    print(
        f"{result.folders} evidence folders, {len(rows)} repeated stretches "
        f"({verified} confirmed frame by frame) -> {args.out / 'crosscheck.parquet'}, "
        f"{args.out / 'crosscheck.html'}"
    )
    return 1 if result.problems else 0


def cmd_checks(args: argparse.Namespace) -> int:
    from pipeline.checks.listing import describe, write_readme

    if args.write_readme is not None:
        try:
            changed = write_readme(args.write_readme)
        except (OSError, ValueError) as exc:
            _err(str(exc))
            return 2
        print(f"{'rewrote' if changed else 'unchanged'}: {args.write_readme}")
        return 0
    print(describe(args.lang))
    return 0


COMMANDS = {
    "samples": cmd_samples,
    "scan": cmd_scan,
    "report": cmd_report,
    "review": cmd_review,
    "archive-check": cmd_archive_check,
    "export": cmd_export,
    "summary": cmd_summary,
    "crosscheck": cmd_crosscheck,
    "keygen": cmd_keygen,
    "checks": cmd_checks,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except InputError as exc:
        _err(str(exc))
        return 2
    except EvidenceWriteError as exc:
        _err(f"{exc}; earlier evidence left as it was")
        return 1
    except KeyboardInterrupt:
        _err("interrupted; finished work is cached and reused by the next run")
        return 130
