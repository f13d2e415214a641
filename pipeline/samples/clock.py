"""Burned-in NVR clock: white digits on a black box, drawn after the camera image.

NVRs overlay the clock on the recorded stream, so it keeps ticking through a black or frozen
camera feed and it is not moved when the camera is turned. The text is large and high-contrast
so OCR can read it at an analysis width of 320-640 px.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

import cv2
import numpy as np

# Normalised x, y, w, h of the clock box; written to site.toml as each camera's clock_region.
CLOCK_REGION: tuple[float, float, float, float] = (0.02, 0.025, 0.56, 0.09)
CLOCK_FORMAT = "%Y-%m-%d  %H:%M:%S"
_FONT = cv2.FONT_HERSHEY_DUPLEX
_Y_TEXT, _Y_BOX = 235, 16  # limited-range luma for white text and the black box


def region_px(width: int, height: int, region=CLOCK_REGION) -> tuple[int, int, int, int]:
    """The clock box in pixels (even-aligned so chroma planes line up)."""
    x, y, w, h = region
    x0, y0 = round(x * width) & ~1, round(y * height) & ~1
    return x0, y0, round(w * width) & ~1, round(h * height) & ~1


@lru_cache(maxsize=512)
def clock_patch(text: str, width: int, height: int) -> np.ndarray:
    """Luma patch (height x width) with ``text`` fitted into it, white on black."""
    patch = np.full((height, width), _Y_BOX, np.uint8)
    thickness = max(1, round(height / 16))
    (tw, th), _ = cv2.getTextSize(text, _FONT, 1.0, thickness)
    scale = min((width * 0.94) / tw, (height * 0.62) / th)
    (tw, th), _ = cv2.getTextSize(text, _FONT, scale, thickness)
    org = ((width - tw) // 2, (height + th) // 2)
    cv2.putText(patch, text, org, _FONT, scale, _Y_TEXT, thickness, cv2.LINE_AA)
    return patch


def burn_clock(i420: np.ndarray, when: datetime, region=CLOCK_REGION) -> None:
    """Overlay ``when`` (already in local time) onto an I420 frame in place."""
    height = i420.shape[0] * 2 // 3
    width = i420.shape[1]
    x, y, w, h = region_px(width, height, region)
    i420[y : y + h, x : x + w] = clock_patch(when.strftime(CLOCK_FORMAT), w, h)
    # I420 chroma: U then V planes of (height/2, width/2), each stored as height/4 rows of width.
    chroma = i420[height:].reshape(2, height // 2, width // 2)
    chroma[:, y // 2 : (y + h) // 2, x // 2 : (x + w) // 2] = 128
