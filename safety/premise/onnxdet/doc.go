// Package onnxdet runs an open-vocabulary object detector exported to ONNX
// as a premise.Detector: the instruction's object phrases are the labels.
// It speaks OWL-ViT/OWLv2's interface — an image (pixel_values, NCHW,
// normalised), the queries tokenized one per row (input_ids and
// attention_mask), and per box and query a logit plus per box its centre
// and size — so a lab's export of such a detector (or any model with the
// same inputs and outputs) runs by writing its detector.yaml:
//
//	format: efferent-detector/1
//	name: owlv2-base
//	file: owlv2.onnx
//	image: {input: pixel_values, height: 960, width: 960, mean: [0.481, 0.458, 0.408], std: [0.269, 0.261, 0.276]}
//	text: {tokenizer: tokenizer.json, input_ids: input_ids, attention_mask: attention_mask, max_tokens: 16, pad_id: 0}
//	outputs: {logits: logits, boxes: pred_boxes}
//	threshold: 0.1
//
// Scores (the sigmoid of the best box's logit per query and frame) are
// mapped onto the premise checker's scale so that the detector's own
// threshold lands on premise.DefaultPresent (0.5): score × 0.5/threshold,
// at most 1. A detector's typical threshold (OWLv2 ~0.1) is then "present",
// and scores under 0.4 × threshold are "absent".
//
// This is a cgo leaf (ONNX Runtime through policy/ort's library and
// session options). testdata/toy-colour is a hand-built detector with this
// interface for the tests — a colour matcher, not a model of anything.
package onnxdet
