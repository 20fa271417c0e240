#!/usr/bin/python3
"""Builds detector.onnx: a toy open-vocabulary detector with OWL-ViT's
interface, for testing efferent's generic ONNX detector path (not a model
of anything). Run offline: /usr/bin/python3 build.py (Debian python3-onnx).

Inputs:  pixel_values [1, 3, 64, 64] float (RGB in 0..1),
         input_ids [Q, T] int64, attention_mask [Q, T] int64 (one query per
         row, tokenized with tokenizer.json).
Outputs: logits [1, 16, Q] (one per 16x16 patch of a 4x4 grid and query),
         pred_boxes [1, 16, 4] (cx, cy, w, h in 0..1).
A query's embedding is the sum of its words' colour vectors (red, green,
blue; other words nothing); a patch's logit is 8 x (its mean colour . the
query's embedding) - 2: a patch of the query's colour scores about 6, a grey
one -2, another colour about -6."""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

vocab = ["[PAD]", "[UNK]", "red", "green", "blue", "yellow", "block", "bowl", "ball", "cylinder", "plate", "basket", "the", "a"]
emb = np.zeros((len(vocab), 3), np.float32)
for word, vec in {"red": [1, -.5, -.5], "green": [-.5, 1, -.5], "blue": [-.5, -.5, 1], "yellow": [.5, .5, -1]}.items():
    emb[vocab.index(word)] = vec
boxes = np.zeros((1, 16, 4), np.float32)
for i in range(16):
    r, c = divmod(i, 4)
    boxes[0, i] = [(c + .5) / 4, (r + .5) / 4, .25, .25]

init = [
    numpy_helper.from_array(emb, "emb"),
    numpy_helper.from_array(boxes, "boxes_const"),
    numpy_helper.from_array(np.array([1, 3, 16], np.int64), "shape_p"),
    numpy_helper.from_array(np.array(8, np.float32), "scale"),
    numpy_helper.from_array(np.array(2, np.float32), "bias"),
    numpy_helper.from_array(np.array([1], np.int64), "axis1"),
    numpy_helper.from_array(np.array([2], np.int64), "axis2"),
]
nodes = [
    helper.make_node("AveragePool", ["pixel_values"], ["pooled"], kernel_shape=[16, 16], strides=[16, 16]),  # [1,3,4,4]
    helper.make_node("Reshape", ["pooled", "shape_p"], ["patches_c"]),  # [1,3,16]
    helper.make_node("Transpose", ["patches_c"], ["patches"], perm=[0, 2, 1]),  # [1,16,3]
    helper.make_node("Gather", ["emb", "input_ids"], ["tok_emb"], axis=0),  # [Q,T,3]
    helper.make_node("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT),  # [Q,T]
    helper.make_node("Unsqueeze", ["mask_f", "axis2"], ["mask_u"]),  # [Q,T,1]
    helper.make_node("Mul", ["tok_emb", "mask_u"], ["masked"]),
    helper.make_node("ReduceSum", ["masked", "axis1"], ["q_emb"], keepdims=0),  # [Q,3]
    helper.make_node("Transpose", ["q_emb"], ["q_embT"], perm=[1, 0]),  # [3,Q]
    helper.make_node("MatMul", ["patches", "q_embT"], ["dot"]),  # [1,16,Q]
    helper.make_node("Mul", ["dot", "scale"], ["scaled"]),
    helper.make_node("Sub", ["scaled", "bias"], ["logits"]),
    helper.make_node("Identity", ["boxes_const"], ["pred_boxes"]),
]
graph = helper.make_graph(
    nodes, "toy_colour_owl",
    [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, [1, 3, 64, 64]),
     helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["q", "t"]),
     helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["q", "t"])],
    [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 16, "q"]),
     helper.make_tensor_value_info("pred_boxes", TensorProto.FLOAT, [1, 16, 4])],
    init)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="efferent build.py")
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, "detector.onnx")

import json
tok = {"version": "1.0", "truncation": None, "padding": None,
       "added_tokens": [{"id": 0, "content": "[PAD]", "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True},
                        {"id": 1, "content": "[UNK]", "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}],
       "normalizer": {"type": "Lowercase"}, "pre_tokenizer": {"type": "Whitespace"}, "post_processor": None, "decoder": None,
       "model": {"type": "WordLevel", "vocab": {w: i for i, w in enumerate(vocab)}, "unk_token": "[UNK]"}}
with open("tokenizer.json", "w") as f:
    json.dump(tok, f, indent=1)
