// Package render draws sim.World scenes with OpenCV (gocv): it is the only
// package under sim that uses cgo.
//
// Scenes are made of flat-shaded convex polygons (boxes, prisms, discs)
// and circles (balls), projected through sim.Camera's pinhole model after
// clipping against its near plane, and drawn with the painter's algorithm:
// the table, grid lines and shadows first, then each stack of objects
// (an object on the table with whatever rests on or in it, bottom up) and
// the gripper with its held object, far to near. Within a convex shape only
// faces turned toward the camera are drawn. Polygons are anti-aliased with
// sub-pixel vertex precision, so a millimetre of motion changes pixels.
//
// Rendering is deterministic: the same world and camera give byte-identical
// images. Images are upright RGB (no 180° flip as raw LIBERO needs).
//
// Legged draws the legged-base simulator's scenes (sim/legged) with the
// same primitives: the arena's floor and grid, its walls, balls, boxes,
// cones, doors and bars, and, except from its own egocentric camera, the
// quadruped, its legs stepping with the gait's phase.
package render
