// Package camera owns where frames come from and how they are brought to
// the model's input: the preprocessing Spec (size, resize mode,
// interpolation, rotation, centre crop, channel order) that run, serve and
// eval apply identically; the Source interface of a camera that captures on
// its own goroutine and keeps only the latest frame (Slot is that buffer,
// with drop counting and a measured rate); Check, which reads cameras as the
// control loop would and saves previews (`efferent camera check`); and
// cheap pure-Go helpers. The
// OpenCV implementations — the preprocessor, and devices, files, streams
// and image directories as sources — are the leaf package camera/cv; ROS
// image topics are read by package ros.
package camera
