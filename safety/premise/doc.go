// Package premise is the false-premise checker: before a policy moves the
// robot for a new instruction, it checks that the objects the instruction
// names are in the cameras' view, and answers ok, refuse (naming what is
// missing) or clarify (with a question), never guessing.
//
// The check has three parts, each replaceable:
//
//   - Parse turns an instruction into actions and object phrases (colour,
//     category, place relation such as "in the bowl" or "left of"), against
//     a Vocabulary that is data (the task set's objects plus synonyms), not
//     strings scattered through the code. Words it does not know never make
//     it fail: a phrase whose head noun is no known category is kept as
//     ungroundable, which the checker turns into a question.
//   - A Detector grounds phrases in camera frames: given the frames and the
//     queries (one per phrase) it returns scored detections. safety/premise/cv
//     implements one with OpenCV for the simulator's tabletop objects
//     (colour segmentation and contour geometry); an open-vocabulary ONNX
//     detector or a policy's own premise head fit the same interface.
//   - A Session accumulates the per-frame scores of one instruction over
//     Conf.Frames consecutive frames and decides with an uncertain band: a
//     phrase whose mean score reaches Conf.Present is present, one at or
//     below Conf.Absent is missing, anything between is uncertain. Any
//     missing phrase refuses; otherwise any uncertain or ungroundable phrase
//     asks; otherwise ok. Until the frames are in, the verdict is pending.
//
// Only presence is checked: relations ("left of", "in") are parsed and
// reported, not verified in the image. This package is pure Go (no cgo);
// a Checker is safe for concurrent use when its Detector is, a Session is
// not (one per robot, connection or episode).
package premise
