#!/usr/bin/python3
"""Build the external-data test graph for policy/ort's inspect tests.

Run from the repository root with Debian's onnx:

    /usr/bin/python3 policy/ort/testdata/external/build.py

It takes the efferent-fixture's VQ latent decoder (models/efferent-fixture/
vq_decoder.onnx: float32 latent [1, 16] -> chunk [1, 5, 7]) and saves it
again with every weight in an external data file, as exporters do for
graphs over 2 GB:

    model.onnx       the graph, weights referenced by location/offset/length
    model.onnx.data  the weights

The graph computes exactly what the fixture's does, so a copy of the fixture
whose manifest names model.onnx as its latent decoder still reproduces the
fixture's outputs.
"""
import os

import onnx

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))
SRC = os.path.join(ROOT, "models", "efferent-fixture", "vq_decoder.onnx")


def main():
    model = onnx.load(SRC)
    model.producer_name = "efferent policy/ort/testdata/external/build.py"
    model.producer_version = ""
    for name in ("model.onnx", "model.onnx.data"):
        path = os.path.join(HERE, name)
        if os.path.exists(path):
            os.remove(path)
    onnx.save_model(model, os.path.join(HERE, "model.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="model.onnx.data", size_threshold=0)
    check = onnx.load(os.path.join(HERE, "model.onnx"))  # loads the external data too
    onnx.checker.check_model(check)
    n = sum(1 for t in check.graph.initializer)
    print("wrote model.onnx (%d bytes) and model.onnx.data (%d bytes), %d initializers"
          % (os.path.getsize(os.path.join(HERE, "model.onnx")),
             os.path.getsize(os.path.join(HERE, "model.onnx.data")), n))


if __name__ == "__main__":
    main()
