"""Pure functions behind the integrity analysers: noise floor, frame difference, overlay mask,
hashes, clock parsing. Fast, no video."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from pipeline.inputs.config import Rules
from pipeline.refine import frame_test as refine_test
from pipeline.signals.clock import clock_offset, parse_clock
from pipeline.signals.fingerprint import ahash, hamming, majority, motion_cells, phash
from pipeline.signals.picture import (
    BlackTest,
    FrozenTest,
    frame_difference,
    is_black,
    is_still,
    noise_sigma,
    still_score,
    without_overlay,
)

RNG = np.random.default_rng(7)


def scene(noise: float = 0.0, shift: float = 0.0) -> np.ndarray:
    y, x = np.mgrid[0:180, 0:320]
    base = 90 + 60 * (x > 160) + 30 * np.sin(y / 9.0) + shift
    return np.clip(base + RNG.normal(0, noise, base.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("sigma", [1.0, 2.0, 4.0])
def test_noise_sigma_measures_sensor_noise_not_texture(sigma):
    assert noise_sigma(scene(sigma)) == pytest.approx(sigma, rel=0.2)
    assert noise_sigma(scene(0.0)) < 0.5  # edges and shading are not noise


def test_still_score_separates_live_noise_from_a_repeated_picture():
    a, b = scene(2.0), scene(2.0)
    live = still_score(np.array([frame_difference(a, b)]), np.array([noise_sigma(b)]))[0]
    same = still_score(np.array([frame_difference(a, a)]), np.array([noise_sigma(a)]))[0]
    # white noise, the least favourable case: mean |a - b| = 1.13 sigma; encoders smooth the
    # spatial noise a frozen picture is judged against, which only raises the score
    assert live > FrozenTest.of().ratio_exit + 0.1 and same == 0.0


def test_frame_difference_ignores_lighting_drift_and_a_ticking_clock():
    a = scene(0.0)
    brighter = scene(0.0, shift=6.0)
    assert frame_difference(a, brighter) < 0.6
    ticking = a.copy()
    ticking[5:20, 10:60] = 255 - ticking[5:20, 10:60]  # digits changed in one corner
    assert frame_difference(a, ticking) < 0.2


def test_is_still_has_hysteresis_and_keeps_state_over_unknowns():
    diff = np.array([5.0, 0.0, 0.0, np.nan, 0.9, 5.0])
    noise = np.ones(6)
    assert is_still(diff, noise).tolist() == [False, True, True, True, True, False]


def test_is_black_dark_or_uniform():
    luma = np.array([100.0, 10.0, 30.0, 100.0, 100.0])
    std = np.array([40.0, 3.0, 3.0, 2.0, 40.0])
    assert is_black(luma, std).tolist() == [False, True, True, True, False]


def test_black_and_frozen_limits_come_from_the_site_rules_in_finder_and_refinement():
    """A dark room at night (luma 18, std 9) is live by default; a site whose black limits
    reach std 12 calls it black, per sample (finders) and per frame (refinement) alike. A
    still picture with a little change is frozen only under a looser frozen ratio."""
    night = np.clip(RNG.normal(18, 9, (90, 160)), 0, 255).astype(np.uint8)
    luma, std = np.full(3, float(night.mean())), np.full(3, float(night.std()))
    tuned = Rules(extra=(("black_dark_std", 12.0), ("black_dark_std_exit", 13.0)))
    assert not is_black(luma, std, BlackTest.of(Rules())).any()
    assert is_black(luma, std, BlackTest.of(tuned)).all()
    assert not refine_test("black", {}, None, Rules())(night)
    assert refine_test("black", {}, None, tuned)(night)
    diff, noise = np.full(3, 1.0), np.ones(3)  # change at the noise level: a live picture
    loose = Rules(extra=(("frozen_ratio", 1.5), ("frozen_ratio_exit", 1.6)))
    assert not is_still(diff, noise, FrozenTest.of(Rules())).any()
    assert is_still(diff, noise, FrozenTest.of(loose)).all()
    ref = scene(2.0)
    assert not refine_test("frozen", {}, ref, Rules())(scene(2.0))
    assert refine_test("frozen", {}, ref, Rules(extra=(("frozen_ratio_exit", 5.0),)))(scene(2.0))


def test_overlay_box_is_painted_over_with_the_rest_of_the_picture():
    g = np.zeros((2, 100, 200), np.uint8)
    g[:, :10, :100] = 255  # the clock box, white
    out = without_overlay(g, (0.0, 0.0, 0.5, 0.1))
    assert out.max() == 0 and g.max() == 255  # input untouched, box gone


def room(noise: float) -> np.ndarray:
    """A textured picture (blurred random blobs), the same each call but for the noise."""
    import cv2

    base = cv2.GaussianBlur(np.random.default_rng(3).uniform(0, 255, (180, 320)), (0, 0), 12)
    base = (base - base.min()) / (base.max() - base.min()) * 160 + 40
    return np.clip(base + RNG.normal(0, noise, base.shape), 0, 255).astype(np.uint8)


def test_hashes():
    a = room(2.0)
    assert hamming(phash(a), phash(room(2.0))) <= 4  # noise does not move the hash
    assert hamming(ahash(a), ahash(room(2.0))) <= 4
    assert hamming(ahash(a), ahash(a[:, ::-1].copy())) >= 16  # another view does
    assert hamming(phash(a), phash(a[:, ::-1].copy())) >= 16
    hashes = np.array([0b1011, 0b1001, 0b1011], dtype=np.uint64)
    assert majority(hashes) == 0b1011
    cells = np.zeros((8, 8), np.float32)
    moved = cells.copy()
    moved[2, 3] = 50.0
    bits = motion_cells(moved, cells)
    assert bin(bits).count("1") == 1 and motion_cells(cells + 7.0, cells) == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2022-03-15 08:31:07", ((2022, 3, 15), (8, 31, 7))),
        (" 2022/03/15  08:31:07", ((2022, 3, 15), (8, 31, 7))),
        ("2022-03-15 O8:3l:07", ((2022, 3, 15), (8, 31, 7))),  # OCR letter/digit mix-ups
        ("08:31:07", (None, (8, 31, 7))),
        ("2022年03月15日 08:31:07", ((2022, 3, 15), (8, 31, 7))),
        ("CAM 01", None),
        ("2022-03-15 25:61:07", None),
    ],
)
def test_parse_clock(text, expected):
    assert parse_clock(text) == expected


def test_clock_offset_in_local_time_and_across_midnight():
    tz = ZoneInfo("Asia/Shanghai")
    at = datetime(2022, 3, 15, 0, 30, 0, tzinfo=UTC)  # 08:30:00 local
    assert clock_offset(((2022, 3, 15), (8, 30, 2)), at, tz) == pytest.approx(2.0)
    assert clock_offset((None, (8, 32, 0)), at, tz) == pytest.approx(120.0)
    late = datetime(2022, 3, 15, 15, 59, 59, tzinfo=UTC)  # 23:59:59 local
    assert clock_offset((None, (0, 0, 1)), late, tz) == pytest.approx(2.0)  # next day
    # without a time zone, whole quarter hours are not counted (the clock's zone is unknown)
    assert clock_offset(((2022, 3, 15), (8, 30, 2)), at, None) == pytest.approx(2.0)


@pytest.mark.parametrize(
    "shape", [(180, 320), (176, 320), (240, 426), (1080, 1920), (9, 13), (5, 20)]
)
def test_block_means_are_opencvs_area_average(shape: tuple[int, int]) -> None:
    """frame_diff's 8x8 block means as a matrix product: the same box averages as OpenCV's
    INTER_AREA resize (fractional block edges included), for frames of any size."""
    import cv2

    from pipeline.signals.picture import block_means

    rng = np.random.default_rng(shape[0])
    image = (rng.random(shape) * 510 - 255).astype(np.float32)
    expected = cv2.resize(image, (8, 8), interpolation=cv2.INTER_AREA)
    assert np.allclose(block_means(image), expected, atol=1e-3)


def test_keyframe_repeats_reuses_the_known_difference_to_the_previous_sample() -> None:
    """Handing keyframe_repeats the frame_diff already computed for each sample changes
    nothing but the cost: same repeats, same lags, on a batch with a repeated picture."""
    from pipeline.signals.picture import frame_difference, keyframe_repeats

    rng = np.random.default_rng(7)
    base = rng.integers(0, 255, (6, 90, 160), dtype=np.uint8)
    gray = np.concatenate([base, base[2:4]])  # pictures 6 and 7 repeat 2 and 3
    t = np.arange(len(gray)) * 2.0
    keys = np.ones(len(gray), bool)
    previous = np.array(
        [np.nan] + [frame_difference(gray[i], gray[i - 1]) for i in range(1, len(gray))]
    )
    plain = keyframe_repeats(gray, t, keys, None, 2.0)
    reused = keyframe_repeats(gray, t, keys, None, 2.0, previous)
    for a, b in zip(plain, reused, strict=True):
        assert np.allclose(a, b, equal_nan=True, atol=1e-4)
    assert reused[0][6] < 1e-3 and reused[1][6] == 8.0  # found 8 s back


def test_ocr_runs_onnxruntime_on_one_thread() -> None:
    """Dask runs one task per core: the clock's OCR sessions must not bring a thread pool of
    their own (RapidOCR drops per-model thread settings; its default pool spun a second core)."""
    from pipeline.signals.clock import ocr_engine

    engine = ocr_engine()
    for part in (engine.text_det.infer, engine.text_cls.infer, engine.text_rec.session):
        options = part.session.get_session_options()
        assert (options.intra_op_num_threads, options.inter_op_num_threads) == (1, 1)


def test_ocr_sessions_plan_no_memory_pattern_and_read_the_same() -> None:
    """Text lines come in any width and batches in any size: the OCR sessions run without
    onnxruntime's per-shape memory pattern (each new shape was planned anew on its first run,
    0.5 s for a batch of six lines), and the recogniser still computes exactly what
    RapidOCR's own session computes, on several shapes."""
    import onnxruntime as ort

    from pipeline.signals.clock import ocr_engine

    engine = ocr_engine()
    for part in (engine.text_det.infer, engine.text_cls.infer, engine.text_rec.session):
        options = part.session.get_session_options()
        assert not options.enable_mem_pattern
        assert options.enable_cpu_mem_arena  # freed buffers are kept, not page-faulted again
    ours = engine.text_rec.session.session
    plain = ort.InferenceSession(ours._model_path, providers=["CPUExecutionProvider"])
    name = ours.get_inputs()[0].name
    rng = np.random.default_rng(3)
    for batch, width in ((1, 320), (6, 532), (3, 900), (6, 532)):
        x = rng.random((batch, 3, 48, width), dtype=np.float32)
        a = ours.run(None, {name: x})[0]
        b = plain.run(None, {name: x})[0]
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
