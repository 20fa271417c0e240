// Package legged is efferent's built-in legged-base (quadruped) simulator,
// beside the tabletop one in package sim: a quadruped's body as a
// command-following locomotion controller presents it to a high-level
// policy (QUART-style), an arena with balls, boxes, cones, bars, doors and
// walls, three task suites with fixed, seeded initial states and success
// predicates, and a scripted expert. It is pure Go; images are drawn by a
// Renderer (sim/render.Legged, OpenCV).
//
// # Frames and units
//
// Metres, radians, seconds; world frame +x, +y on the floor, +z up. The
// arena is the square |x|, |y| ≤ World.Half (ArenaHalf, 4 m), walled. The
// base's pose is its body centre (x, y) and height z above the floor, and
// its yaw (counter-clockwise from +x). Body velocities (vx forward, vy
// left, wz counter-clockwise) are in the body frame. "Left" and "right" in
// instructions are the robot's, which are also image left and right in
// the egocentric camera.
//
// # Commands and state
//
// Step takes the 7-d command (CommandDim; indices CmdVX … CmdStop) at
// StepHz (50 Hz by default): vx, vy, wz, body height, gait frequency, foot
// swing height, stop flag. Each entry is first clipped to the envelope
// (MaxVX 1 m/s, MaxVY 0.5 m/s, MaxWZ 1.5 rad/s, height MinHeight 0.14 …
// MaxHeight 0.32 m, gait 1 … 4 Hz, swing 0.03 … 0.12 m, stop 0 … 1). A
// command of the wrong length or with NaN or ±Inf is refused
// (ErrBadCommand) and nothing moves.
//
// State (StateDim = 7, StateKey) is what a locomotion stack reports:
// odometry x, y, yaw of the base in the frame of its start pose (so every
// episode starts at 0, 0, 0), the measured body velocities vx, vy, wz, and
// the body height.
//
// # Dynamics
//
// Per step, dt = 1/StepHz:
//
//   - Stop flag (≥ StopFlag, 0.5): the velocity targets are 0 and
//     Base.Stopped is set, whatever the other entries say.
//   - Crawl: while the body is below CrawlHeight (0.20 m) the targets are
//     capped at |vx| ≤ 0.3 m/s, |vy| ≤ 0.15 m/s (short strides).
//   - Velocity tracking: each of vx, vy, wz follows its target as a
//     first-order lag with τ = LagTime(gait) = 0.25 s·2/GaitHz (a faster
//     gait corrects errors at more footfalls per second), and the change
//     per step is then limited to MaxAccel·dt (2 m/s²) for vx and vy and
//     MaxYawAccel·dt (4 rad/s²) for wz, exactly.
//   - Height moves toward the command at most HeightRate (0.3 m/s), but
//     never up into a bar whose footprint the body is under.
//   - The pose integrates the body velocities in the world frame (at the
//     step's mid heading); the gait phase advances by GaitHz·dt.
//   - Collisions stop the base: the footprint is a disc of BodyRadius
//     (0.30 m). If the new position's disc would overlap a solid object
//     (boxes, walls and doors: their Size x × y rectangle turned by Yaw;
//     balls and cones: discs of diameter Size[0]; a bar's two posts,
//     discs of BarPostRadius) or leave the arena, the translation is
//     refused: the base stays where it was, its linear velocity is set to
//     zero and Collisions counts the step. A disc is unchanged by turning,
//     so the yaw still integrates. A Bar itself (its footprint rectangle)
//     blocks only when the body's top, height + BodyThickness/2, is above
//     its Clearance; below, the base walks under it. The base never
//     overlaps anything (TestNeverPenetrates).
//
// # Tasks
//
// Suites() are "quadruped-goto", "quadruped-obstacle" and
// "quadruped-posture", 8 tasks each (Tasks):
//
//   - goto: walk to a named object among distractors of other colours and
//     kinds, some ahead, to the side ("turn left and stop at the door") or
//     behind ("turn around …", "back up to the box");
//   - obstacle: reach the goal past boxes, walls and cones in the way
//     ("walk around the box and stop at the blue cone", "go between the
//     two walls and stop at the red ball");
//   - posture: crawl under a bar (Clearance 0.30 m, or 0.26 m for "the low
//     bar") flanked by walls to the arena's edges, so it cannot be walked
//     around, then stop at the goal; one task has two bars.
//
// Initial state init of a task is a pure function of (task, init): the
// nominal scene with every object (or group: a bar and its walls move
// together) offset by up to ObjectJitter (0.10 m) in x and y, and the
// base's start by up to StartJitter (0.10 m) and StartYawJitter (0.15
// rad), drawn from Task.Seed(init) (SplitMix64). Evaluations use inits
// 0 … NumInitStates−1 (50).
//
// Success is checked after every step and latched: the base within
// StopDist (0.35 m) of the goal object, measured between footprints
// (Base.Gap), and still at that moment (|v| < 0.05 m/s and |wz| < 0.1
// rad/s, or held by the stop flag); tasks with UnderBars also need the
// base's centre to have crossed under every bar. FalsePremiseTasks gives
// each task a variant whose goal object is missing (Task.Missing; the
// instruction names something that is not there): it succeeds when the
// base has stayed within FalsePremiseTol (0.02 m) of its start on every
// step for FalsePremiseHold (100) steps, and never once it has moved.
//
// # Cameras
//
// Observe renders the egocentric camera (EgoCamera: front of the body,
// pitched 12° down, 70° field of view) into ImageKey, ImageSize pixels
// square (224 by default); ThirdPerson renders a chase camera
// (ThirdCamera) for people. With Conf.NoRender no image is drawn.
//
// The false-premise check looks through four more (SurroundCameras,
// ObserveSurround into SurroundKeys): level cameras on a mast
// SurroundMast above the body, a quarter turn apart with SurroundFOV
// each, so a goal beside or behind the base is in view before it moves;
// the policy never sees them. PremiseObjects and PremiseVocabulary are
// what the task set's instructions may name (rig.LeggedPremiseChecker).
//
// # Expert
//
// Expert plans a path over the layout (a shortest grid path clear of
// everything by a margin, under bars, shortened to straight legs) and
// follows it with a heading/distance controller within the envelope:
// turning in place first when the goal is to the side or behind, crawling
// near bars, walking backwards for "back up", slowing on the last leg and
// setting the stop flag at the goal; on a false premise it sets the stop
// flag from the first step. Over the evaluation inits it succeeds on every
// suite at least 95 % of the time (TestExpertSuccess).
package legged
