#!/usr/bin/env bash
# Set up ExamAudit on a fresh machine: Python packages from PyPI (PyAV carries FFmpeg),
# then Debian's Chromium for the browser tests (only where apt-get exists and we are root).
#   bash scripts/setup.sh            # everything (runtime, YOLO extra, dev/test tools, browser)
#   bash scripts/setup.sh --no-browser
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

"$PY" -m pip install --disable-pip-version-check -q -e '.[yolo,dev]'
# Ultralytics and RapidOCR pull in the GUI build of OpenCV, which shadows the contrib build that
# carries the HOG people detector (OpenCV 5). Keep exactly one cv2: the headless contrib build.
if "$PY" -m pip show -q opencv-python >/dev/null 2>&1; then
  "$PY" -m pip uninstall -y -q opencv-python
  version=$("$PY" -m pip show opencv-contrib-python-headless | awk '/^Version:/{print $2}')
  "$PY" -m pip install --disable-pip-version-check -q --force-reinstall --no-deps \
    "opencv-contrib-python-headless==$version"
fi
command -v pyenv >/dev/null 2>&1 && pyenv rehash || true

if [[ "${1:-}" != "--no-browser" ]]; then
  bash scripts/install-browser.sh || echo "setup: Chromium not installed; browser tests will skip" >&2
fi
"$PY" -c "import av, cv2; assert hasattr(cv2, 'HOGDescriptor'); print('examaudit ready:', 'PyAV', av.__version__, 'OpenCV', cv2.__version__)"
