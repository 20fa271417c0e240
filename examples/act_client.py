#!/usr/bin/env python3
"""POST /act, OpenVLA's REST protocol, with numpy + requests only.

    python3 examples/act_client.py [http://127.0.0.1:8000] [TOKEN]

Debian: apt-get install python3-numpy python3-requests
OpenVLA's own client (json_numpy.patch(); requests.post(url, json={"image":
img, "instruction": ...})) works too: json_numpy writes arrays in the form
npy() does here.
"""
import base64
import sys

import numpy as np
import requests


def npy(a):
    return {"__numpy__": base64.b64encode(a.tobytes()).decode(), "dtype": a.dtype.str, "shape": list(a.shape)}


def from_npy(d):
    return np.frombuffer(base64.b64decode(d["__numpy__"]), dtype=np.dtype(d["dtype"])).reshape(d["shape"])


def main(base, token):
    headers = {"Authorization": "Bearer " + token} if token else {}
    img = np.zeros((224, 224, 3), np.uint8)
    body = {
        "image": npy(img),            # or a base64 PNG/JPEG string
        "wrist_image": npy(img),
        "state": [0.0] * 8,
        "instruction": "put the red block in the blue bowl",
    }
    r = requests.post(base + "/act", json=body, headers=headers, timeout=30)
    if r.status_code != 200:  # errors are HTTP errors with {"error": "..."}
        raise RuntimeError(f"{r.status_code}: {r.json()['error']}")
    print("action:", np.round(from_npy(r.json()), 4), "infer ms", r.headers.get("X-Efferent-Infer-Ms"))
    body["chunk"] = True
    r = requests.post(base + "/act", json=body, headers=headers, timeout=30)
    r.raise_for_status()
    print("chunk:", from_npy(r.json()).shape)
    r = requests.post(base + "/act", json={**body, "unnorm_key": "bridge_orig"}, headers=headers, timeout=30)
    print("a wrong unnorm_key is refused:", r.status_code, r.json()["error"])


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000", sys.argv[2] if len(sys.argv) > 2 else "")
