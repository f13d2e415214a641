"""The check registry: declarations validated, site.toml [rules] checked against them, the
README's settings table generated from them, and scan's results unchanged by running through
them (the samples end-to-end test compares every finding)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.checks import registry
from pipeline.checks.base import Check, KindSpec, Setting
from pipeline.checks.listing import describe, settings_markdown
from pipeline.errors import InputError
from pipeline.inputs.config import Rules, load_site
from pipeline.records import EVENT_KINDS

ROOT = Path(__file__).resolve().parents[1]


def test_every_event_kind_is_declared_by_one_check() -> None:
    declared = registry.kinds()
    missing = [k for k in EVENT_KINDS if k not in declared]
    assert not missing, (
        f"kinds {missing} are in records.EVENT_KINDS but no check in pipeline/checks declares "
        "them: add a KindSpec to the `kinds` of the check that emits them"
    )


def test_every_rule_is_a_declared_setting_with_the_same_default() -> None:
    settings = registry.settings()
    for name, value in vars(Rules()).items():
        if name == "extra":
            continue
        assert name in settings, f"config.Rules.{name} is no check's declared setting"
        assert settings[name][0].default == value


def test_a_run_picks_the_analysers_that_fill_its_checks_columns() -> None:
    """Every column a selected check reads or writes is filled by an analyser the run picks
    (or by the timeline rows themselves); a coverage-only run decodes nothing."""
    per_row = {"session_id", "camera_id", "t", "source_file", "t_file_s"}  # tasks.timeline_rows
    assert registry.analysers_for(("coverage",)) == []
    for groups in (("coverage", "integrity"), ("coverage", "people"), registry.GROUPS):
        filled = {c for a in registry.analysers_for(groups) for c in a.columns}
        for chk in registry.all_checks():
            if chk.group in groups:
                missing = {*chk.needs, *chk.writes} - filled - per_row
                assert not missing, (groups, chk.name, missing)
    names = [a.name for a in registry.analysers_for(("coverage", "integrity"))]
    assert names == ["picture", "fingerprint", "view", "clock"]  # no detector, no people


def test_parse_checks_always_includes_coverage() -> None:
    assert registry.parse_checks(None) == registry.GROUPS
    assert registry.parse_checks("people") == ("coverage", "people")
    with pytest.raises(ValueError, match="unknown check"):
        registry.parse_checks("integrity,colour")


def test_registration_rejects_inconsistent_declarations() -> None:
    spec = KindSpec("black_screen", "黑", "Black", "#000000")

    class Dup(Check):
        name = "dup"
        kinds = (spec,)

    with pytest.raises(registry.RegistryError, match="already emitted"):
        registry._validate([*registry.all_checks(), Dup()])

    class BadColumn(Check):
        name = "bad_column"
        kinds = (KindSpec("new_kind", "新", "New", "#123456"),)
        needs = ("no_such_column",)

    with pytest.raises(registry.RegistryError, match=r"not in schemas\.TIMELINE"):
        registry._validate([BadColumn()])

    class BadDefault(Check):
        name = "bad_default"
        kinds = (KindSpec("new_kind", "新", "New", "#123456"),)
        settings = (Setting("x_s", float, -1.0, "s", 0, 10, zh="x", en="x"),)

    with pytest.raises(registry.RegistryError, match="default"):
        registry._validate([BadDefault()])

    class Loop(Check):
        name = "loop_a"
        kinds = (KindSpec("new_kind", "新", "New", "#123456"),)
        uses = ("loop_a",)

    with pytest.raises(registry.RegistryError, match="cycle"):
        registry._validate([Loop()])


def test_people_use_the_integrity_spans_from_the_same_run() -> None:
    order = [c.name for c in registry.for_groups(("coverage", "people"), "session")]
    assert order.index("people") > max(order.index(u) for u in ("black", "frozen", "view"))


def _site(tmp_path: Path, rules: str) -> Path:
    path = tmp_path / "site.toml"
    path.write_text(f'timezone = "Asia/Shanghai"\n[rules]\n{rules}\n', encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("rules", "key", "says"),
    [
        ("min_blak_s = 5", "rules.min_blak_s", "unknown key (known: allowed_codecs"),
        ("extra = []", "rules.extra", "unknown key"),  # Rules' own field, no setting
        ("min_black_s = -5", "rules.min_black_s", "a number from 0 to 86400 s, got -5"),
        ("min_fps = 5000", "rules.min_fps", "a number from 0 to 1000 fps, got 5000"),
        ("station_motion_active = 1.5", "rules.station_motion_active", "from 0 to 1 share"),
        ('min_gap_s = "2"', "rules.min_gap_s", "must be a number from 0 to 86400 s"),
        ("min_height = 720.5", "rules.min_height", "a whole number from 0 to 8640 px"),
        ('allowed_codecs = "h264"', "rules.allowed_codecs", "a list of strings"),
        ("black_luma = 300", "rules.black_luma", "a number from 0 to 255 grey levels, got 300"),
        ("frozen_repeat_diff = -0.1", "rules.frozen_repeat_diff", "from 0 to 10 grey levels"),
        ("frozen_repeat_grow = 1.5", "rules.frozen_repeat_grow", "from 0 to 1 x live level"),
        ("motion_level = 0", "rules.motion_level", "a number from 1 to 255 grey levels, got 0"),
    ],
)
def test_rules_errors_name_the_key_and_the_allowed_range(
    tmp_path: Path, rules: str, key: str, says: str
) -> None:
    path = _site(tmp_path, rules)
    with pytest.raises(InputError) as err:
        load_site(path)
    assert err.value.where == key
    assert str(path) in str(err.value) and says in str(err.value)


def test_rules_errors_exit_2_from_the_command_line(tmp_path: Path) -> None:
    site = _site(tmp_path, "min_black_s = -1")
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "scan", str(ROOT / "sample_videos"), "--site",
         str(site), "--out", str(tmp_path / "ev")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 2
    assert f"{site}, rules.min_black_s: must be a number from 0 to 86400 s" in done.stderr


def test_valid_rules_reach_the_checks(tmp_path: Path) -> None:
    site = load_site(_site(tmp_path, 'min_black_s = 7\nallowed_codecs = ["H264"]'))
    assert site.rules.min_black_s == 7.0 and site.rules.value("min_black_s") == 7.0
    assert site.rules.allowed_codecs == ("h264",)
    assert Rules().value("station_motion_active") == 0.01  # declared default, not in Rules
    tuned = load_site(_site(tmp_path, "station_motion_active = 0.05"))
    assert tuned.rules.value("station_motion_active") == 0.05


def test_checks_command_lists_every_check_kind_and_setting() -> None:
    for lang in ("en", "zh"):
        done = subprocess.run(
            [sys.executable, "-m", "pipeline", "checks", "--lang", lang],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == describe(lang).strip()
        for c in registry.all_checks():
            assert c.name in done.stdout
            assert all(k.kind in done.stdout for k in c.kinds)
            assert all(f"rules.{s.name} = " in done.stdout for s in c.settings)
    assert "黑屏/遮挡" in describe("zh") and "Black or covered" in describe("en")


def test_readme_settings_table_is_generated_from_the_registry() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert settings_markdown() in readme, (
        "README.md's settings table is out of date: run "
        "`python -m pipeline checks --write-readme README.md`"
    )
