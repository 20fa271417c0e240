// Package sim is efferent's built-in tabletop simulator in the mould of
// LIBERO: a parallel gripper on a table with blocks, cylinders, balls,
// bowls, a plate and a basket; LIBERO's 7-d delta actions and 8-d state;
// two rendered cameras; four task suites with fixed, seeded initial states
// and success predicates; a scripted expert; and a demonstration writer. It
// is pure Go; images are drawn by a Renderer (sim/render, OpenCV).
//
// # Frames and units
//
// Metres, radians, world frame: +x points away from the robot across the
// table, +y to the robot's left, +z up. The table top is the rectangle
// |x| ≤ TableHalfX, |y| ≤ TableHalfY at height TableZ (0.90, so states have
// LIBERO-like magnitudes). "Left" and "right" in instructions are the
// robot's, which are also image left and right in both cameras.
//
// # Arm, actions and state
//
// The 7-DoF arm is abstracted as its end effector: a grip point (between
// the fingertips), an orientation quaternion and two fingers. Step takes
// LIBERO's action, each entry clipped to [−1, 1] first, mirroring
// robosuite's OSC_POSE delta controller:
//
//	action[0:3]  Δposition = a·PosScale (0.05 m per step)
//	action[3:6]  Δorientation = axis-angle a·RotScale (0.5 rad per step),
//	             applied in the world frame: q ← exp(a·0.5)·q
//	action[6]    gripper: −1 open … +1 closed; each finger moves toward
//	             FingerOpen·(1−a)/2 by at most FingerSpeed (0.01) per step,
//	             so a full close takes 4 steps
//
// The control rate is 20 Hz by default (Conf.StepHz); like robosuite's,
// actions are per-step deltas, so the rate only sets the virtual time.
// The grip point is clamped to the workspace box WorkspaceMin…WorkspaceMax:
// x ∈ [−0.30, 0.30], y ∈ [−0.35, 0.35], z ∈ [TableZ+0.005, TableZ+0.45];
// its lower z bound is the table (FingerClearance), and a held object's
// base is kept above the table too. The approach axis may tilt at most
// MaxTilt (60°) from straight down.
//
// State (8 values, StateKey) is LIBERO's: grip point position (3), the
// axis-angle of the orientation quaternion computed like robosuite's
// quat2axisangle (3; (π, 0, 0) pointing straight down, as at reset), and
// the finger joint positions (+q, −q) with q = 0.04 open, 0 closed.
//
// # Objects, grasping, placement and pushing
//
// Objects are kinematic and stay upright; there is no gravity simulation,
// only these rules:
//
//   - Grasping: while the fingers close, an object is attached when they
//     reach its width (then they stop there) if it is a block, cylinder or
//     ball, nothing rests on it, its vertical axis is within GraspRadius
//     (2 cm) of the grip point horizontally, and the grip point is between
//     its base and 1 cm below its top. The held object then moves rigidly
//     with the gripper (taking its yaw).
//   - Releasing: commanding the fingers wider than the held object lets it
//     go. It drops straight down onto the highest supporting surface under
//     its centre that is not above its base: a block or cylinder top
//     (stacked "on"), a plate ("on"), a bowl's or the basket's floor ("in";
//     it slides inward until it fits inside the rim), or the table.
//   - No interpenetration: a released object that overlaps another object
//     resting on the same support (footprints are circles of radius
//     Object.Radius) is moved radially out of it to the nearest free spot,
//     repeatedly; if no free spot exists (a full bowl), it rests on top of
//     the object it overlaps instead.
//   - Pass-through: apart from pushing, neither the gripper nor a held
//     object collides with objects (they pass through), and objects never
//     fall over; the expert therefore only moves horizontally at a safe
//     height.
//   - Pushing: the gripper pushes with a disc of radius FingerPad around
//     the grip point, below an object's top. An object resting on the
//     table is pushed when that disc moves horizontally into its footprint
//     from outside; it slides along the motion just enough to stay in
//     front of the gripper, carrying whatever rests on it, and pushes the
//     table objects it runs into. The basket is fixed and stops pushed
//     objects, as do the table's edges. An object the gripper came down
//     onto from above (straddled by the fingers) is not pushed.
//
// # Cameras
//
// Two square cameras, ImageSize pixels (224 by default), RGB uint8 HWC:
// the agent view (AgentViewKey; fixed, above and behind the robot's base,
// looking down across the table at about 55°) and the wrist view
// (WristViewKey; mounted behind the gripper's palm, looking down along the
// gripper tilted 30° forward, fingertips in the lower half). Both are
// pinhole cameras (Camera.Project). Images are upright — unlike raw LIBERO
// frames, which openpi's client rotates by 180°, so no flip is needed.
//
// # Tasks
//
// Suites() are "spatial", "object", "goal" and "long", each of 10 tasks
// (Tasks) with LIBERO's step limits (220, 280, 300, 520):
//
//   - spatial: the same seven objects laid out differently per task; put a
//     named block in a bowl or on the plate;
//   - object: six graspable objects and a basket; put the named one in the
//     basket (colours repeat across shapes, so shape matters);
//   - goal: one fixed layout, different goals: put, stack, push left or
//     right, pick up;
//   - long: two-step tasks, e.g. "put the red block in the blue bowl and
//     the green block on the plate".
//
// Initial state init of a task is a pure function of (suite, task index,
// init): the task's layout template (drawn from a seed of the suite and
// Task.Layout, or fixed for the goal suite) plus a small jitter of every
// object (±1.2 cm, blocks' yaw ±0.2 rad) and of the gripper's start (±1 cm)
// from Task.Seed(init). Evaluations use inits 0 … NumInitStates−1 (50).
// Success (World.Success over Task.Goals) is checked after every step and
// latched. FalsePremiseTasks gives each task a variant whose instruction
// names an object missing from the table (Task.Missing); it can never
// succeed.
//
// # Expert
//
// Expert is a scripted state machine over privileged state (see its
// documentation). Its actions are LIBERO-style and bounded by ExpertSpeed.
// Over the evaluation inits it succeeds on every task (TestExpertSuccess).
//
// # Demonstrations
//
// WriteDemos runs the expert for DemoConf.EpisodesPerTask episodes of each
// task of a suite (inits DemoInitBase+episode, never an evaluation init)
// and writes each successful one (all, with KeepFailures) to
// DIR/<suite>/<task index>_<episode>/:
//
//	agent.npy    uint8   [T, H, W, 3]  agent view, RGB, before each action
//	wrist.npy    uint8   [T, H, W, 3]  wrist view
//	state.npy    float32 [T, 8]        state before each action
//	actions.npy  float32 [T, 7]        the expert's action at each step
//	meta.json    {"format": "efferent-demo/1", "suite", "task_index",
//	             "task_name", "instruction", "episode", "init_index",
//	             "seed", "success", "steps" (= T), "image_size", "step_hz"}
//
// The .npy files are NumPy format 1.0 (little-endian, C order), so:
//
//	import numpy as np, json
//	d = "demos/spatial/0_0/"; meta = json.load(open(d + "meta.json"))
//	agent, state, actions = (np.load(d + f) for f in ("agent.npy", "state.npy", "actions.npy"))
//
// ReadDemo reads an episode back, ReadDemoActions only its meta.json and
// actions (for fitting an action tokenizer), FindDemos finds the episodes
// under a directory; ReadNPY is a bounded decoder (header at most 64 KiB,
// data within a byte budget, overflow-checked shapes).
package sim
