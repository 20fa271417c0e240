#!/usr/bin/python3
"""Train efferent-long: efferent-tiny with 16-step action chunks (0.8 s at
20 Hz), long enough that a chunk still has actions left after a 300 ms
inference and its successor is requested in time. Everything but the chunk
length is efferent-tiny's (models/efferent-tiny/train.py, which this runs
with H = 16 and this directory as its output); training starts from
efferent-tiny's weights (--init models/efferent-tiny).

    efferent tokenizer fit --demos DEMOS --chunk 16 --levels 4 --codes 256 --out models/efferent-long
    /usr/bin/python3 models/efferent-long/train.py --demos DEMOS --minutes 40 --init models/efferent-tiny
"""
import os
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import fixturelib as FL

TINY = FL.load_module("tiny_train", os.path.join(os.path.dirname(HERE), "efferent-tiny", "train.py"))
TINY.NAME, TINY.H, TINY.MAX_LAG, TINY.OUT = "efferent-long", 16, 3, HERE

if __name__ == "__main__":
    sys.exit(TINY.main())
