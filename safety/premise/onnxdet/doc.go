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
// The directory may also hold vocabulary.yaml, the objects instructions
// may name (what the checker's parser knows; the detector itself is asked
// for each phrase as written, so any object it can see may be listed):
//
//	objects:
//	  - {name: red mug, color: red, category: mug}
//	  - {name: coffee mug, category: mug}  # no colour word
//	  - {name: plate}                      # category: the name's last word
//
// name is required (at most 4 words, each once in the file); color is the
// colour word instructions use for it, if any (so "the red one" parses);
// category is the head noun (its plural is understood too), by default
// the name's last word. Unknown keys are errors naming the line. With the
// file, its objects are the vocabulary and replace the task set's
// (Detector.Objects); without it, the caller's task set names the objects
// (efferent: the simulator's catalogue). A phrase whose noun is in neither
// is asked about (clarify), never looked for.
//
// efferent run, serve and eval premise load such a directory with
// --premise-detector DIR (config key premise_detector).
//
// This is a cgo leaf (ONNX Runtime through policy/ort's library and
// session options). testdata/toy-colour is a hand-built detector with this
// interface for the tests — a colour matcher, not a model of anything.
package onnxdet
