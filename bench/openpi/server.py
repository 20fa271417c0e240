#!/usr/bin/python3
"""A Python server on openpi's wire stack, for `efferent bench serve`'s
side-by-side comparison: asyncio websockets + msgpack with numpy arrays
as openpi encodes them (shared/reference/openpi-protocol.md, written from
that description, not from openpi's code). Its policy is a busy-wait of
--infer-ms (a model as costly as the one efferent serves, holding the
interpreter as a real model call does) returning a zero (H, D) float64
chunk; --infer-ms 0 is the stack alone.

    python3 server.py --port 8001 --infer-ms 1.1 --horizon 5 --dim 7

Needs Debian's python3-msgpack, python3-websockets and python3-numpy.
It prints "listening PORT" once it accepts connections.
"""
import argparse
import asyncio
import time

import msgpack
import numpy as np
import websockets


def pack_default(obj):
    """numpy arrays and scalars as openpi's encoding writes them: maps with bin keys."""
    if isinstance(obj, np.ndarray):
        return {b"__ndarray__": True, b"data": obj.tobytes(), b"dtype": obj.dtype.str, b"shape": list(obj.shape)}
    if isinstance(obj, np.generic):
        return {b"__npgeneric__": True, b"data": obj.item(), b"dtype": obj.dtype.str}
    raise TypeError(f"cannot pack {type(obj)}")


def unpack_hook(obj):
    """The inverse: arrays rebuilt over the received bytes (read-only, no copy)."""
    if b"__ndarray__" in obj:
        return np.ndarray(buffer=obj[b"data"], dtype=np.dtype(obj[b"dtype"]), shape=obj[b"shape"])
    if b"__npgeneric__" in obj:
        return np.dtype(obj[b"dtype"]).type(obj[b"data"])
    return obj


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--infer-ms", type=float, default=0.0)
    ap.add_argument("--horizon", type=int, default=10)
    ap.add_argument("--dim", type=int, default=7)
    args = ap.parse_args()
    cost = args.infer_ms / 1e3

    def infer(obs):
        # The observation is read as a model would: every image and the state.
        for v in obs.values():
            if isinstance(v, np.ndarray):
                v.reshape(-1)[:1].sum()
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < cost:
            pass
        return {"actions": np.zeros((args.horizon, args.dim), np.float64),
                "policy_timing": {"infer_ms": (time.perf_counter() - t0) * 1e3}}

    async def handler(ws):
        packer = msgpack.Packer(default=pack_default, use_bin_type=True)
        await ws.send(packer.pack({}))
        prev = None
        while True:
            try:
                t0 = time.monotonic()
                msg = await ws.recv()
                obs = msgpack.unpackb(msg, object_hook=unpack_hook, raw=False, strict_map_key=True)
                t1 = time.monotonic()
                out = infer(obs)
                out["server_timing"] = {"infer_ms": (time.monotonic() - t1) * 1e3}
                if prev is not None:
                    out["server_timing"]["prev_total_ms"] = prev * 1e3
                await ws.send(packer.pack(out))
                prev = time.monotonic() - t0
            except websockets.ConnectionClosed:
                return

    async def serve():
        async with websockets.serve(handler, "127.0.0.1", args.port, compression=None, max_size=None):
            print("listening", args.port, flush=True)
            await asyncio.Future()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
