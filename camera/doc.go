// Package camera owns where frames come from and how they are brought to
// the model's input: the preprocessing Spec (size, resize mode,
// interpolation, rotation) that run, serve and eval apply identically, and
// cheap pure-Go helpers. The OpenCV implementation of the spec is the leaf
// package camera/cv; frame sources (V4L2, files, RTSP, ROS) come later.
package camera
