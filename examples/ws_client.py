#!/usr/bin/env python3
"""Query efferent (or any openpi-compatible server) over the websocket
protocol with numpy + msgpack + websockets only.

    python3 examples/ws_client.py [ws://127.0.0.1:8000] [TOKEN]

Debian: apt-get install python3-numpy python3-msgpack python3-websockets
"""
import asyncio
import sys

import msgpack
import numpy as np
import websockets


def pack(obj):
    # numpy arrays travel as openpi's msgpack_numpy maps (bin keys).
    if isinstance(obj, np.ndarray):
        return {b"__ndarray__": True, b"data": obj.tobytes(), b"dtype": obj.dtype.str, b"shape": list(obj.shape)}
    raise TypeError(f"cannot pack {type(obj)}")


def unpack(d):
    if b"__ndarray__" in d:
        return np.ndarray(buffer=d[b"data"], dtype=np.dtype(d[b"dtype"]), shape=d[b"shape"])
    return d


async def main(url, token):
    if token:
        url += "/?token=" + token  # or the header Authorization: Bearer TOKEN
    async with websockets.connect(url, compression=None, max_size=None) as ws:
        metadata = msgpack.unpackb(await ws.recv())  # the first frame
        print("metadata:", metadata)
        for seq in range(3):
            obs = {
                "observation/image": np.zeros((224, 224, 3), np.uint8),        # agent view, HWC uint8
                "observation/wrist_image": np.zeros((224, 224, 3), np.uint8),  # wrist camera
                "observation/state": np.zeros(8),                              # eef pos, axis-angle, fingers
                "prompt": "put the red block in the blue bowl",
                "seq": seq,  # optional: echoed in the reply
            }
            await ws.send(msgpack.packb(obs, default=pack))
            reply = await ws.recv()
            if isinstance(reply, str):  # an error: a text frame, then the server closes
                raise RuntimeError(reply)
            out = msgpack.unpackb(reply, object_hook=unpack)
            print(f"session {out['session']} seq {out['seq']}: actions {out['actions'].shape} "
                  f"in {out['server_timing']['infer_ms']:.1f} ms; first {np.round(out['actions'][0], 3)}")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "ws://127.0.0.1:8000",
                     sys.argv[2] if len(sys.argv) > 2 else ""))
