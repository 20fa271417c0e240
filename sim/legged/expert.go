package legged

import "math"

// Expert is a scripted policy that solves every true-premise task from
// privileged state (the World), and holds still (stop flag) on a
// false-premise task from the first step, since its goal is not there.
//
// At the first Act of an episode it plans a path over the task's layout
// (plan: a shortest grid path around everything, grown by a 15 cm
// margin, passing under bars, shortened to straight legs) and then
// follows its waypoints with a heading/distance controller: turn in place
// while the heading error is large (so "turn around" and "turn left"
// tasks turn first), walk at up to expertSpeed otherwise, slowing on the
// last leg in proportion to the distance left (critically damped against
// the controller's 0.25 s lag), and set the stop flag once within the
// goal band. Within barZone of a bar it commands the crawl height and the
// crawl speed; elsewhere the nominal height. A task that says "back up"
// walks backwards. Commands always lie within the envelope.
type Expert struct {
	name  string
	init  int
	path  [][2]float64
	wp    int
	stop  bool
	valid bool
}

// Expert parameters.
const (
	expertSpeed  = 0.8  // m/s
	expertGaitHz = 2.0  // Hz
	expertSwing  = 0.08 // m
	expertCrawl  = 0.18 // m: top 0.23 m, under every bar of the tasks
	barZone      = 1.0  // m from a bar's footprint where the base crawls
	wpReach      = 0.10 // m: a waypoint counts as reached
	stopGap      = 0.22 // m: footprint gap to the goal to stop at
	turnFirst    = 0.5  // rad: heading error above which it turns in place
)

// NewExpert returns an expert ready for a new episode.
func NewExpert() *Expert { return &Expert{} }

// Act writes the next command for e's state into dst (resized to
// CommandDim) and returns it. It replans when e holds a different
// episode (task, init) than the last call, or a fresh one (Steps 0).
func (x *Expert) Act(e *Env, dst []float64) []float64 {
	if cap(dst) < CommandDim {
		dst = make([]float64, CommandDim)
	}
	dst = dst[:CommandDim]
	clear(dst)
	w := e.World()
	t := e.Task()
	if !x.valid || e.Steps() == 0 || x.name != t.Name || x.init != e.Init() {
		*x = Expert{name: t.Name, init: e.Init(), valid: true}
		if !t.FalsePremise && e.goal >= 0 {
			x.path = plan(w, e.goal)
		}
	}
	b := &w.Base
	dst[CmdHeight], dst[CmdGaitHz], dst[CmdSwing] = NominalHeight, expertGaitHz, expertSwing
	if t.FalsePremise || e.goal < 0 || len(x.path) == 0 {
		dst[CmdStop] = 1
		return dst
	}
	g := &w.Objects[e.goal]
	last := len(x.path) - 1
	for x.wp < last && math.Hypot(x.path[x.wp][0]-b.Pos[0], x.path[x.wp][1]-b.Pos[1]) < wpReach {
		x.wp++
	}
	if x.stop || (x.wp == last && b.Gap(g) <= stopGap && e.PassedBars()) {
		x.stop = true
		dst[CmdStop] = 1
		return dst
	}
	speed := expertSpeed
	if nearBar(w, b.Pos[0], b.Pos[1]) {
		dst[CmdHeight] = expertCrawl
		speed = CrawlMaxVX * 0.95
	}
	p := x.path[x.wp]
	dx, dy := p[0]-b.Pos[0], p[1]-b.Pos[1]
	d := math.Hypot(dx, dy)
	heading := math.Atan2(dy, dx)
	dir := 1.0
	if t.Backward {
		heading += math.Pi
		dir = -1
	}
	eh := wrapAngle(heading - b.Yaw)
	dst[CmdWZ] = clamp(2.5*eh, -1.2, 1.2)
	v := speed
	if x.wp == last {
		v = math.Min(v, 0.9*d+0.05)
	} else {
		v = math.Min(v, 0.3+1.0*d)
	}
	v *= clamp(1-math.Abs(eh)/turnFirst, 0, 1)
	dst[CmdVX] = dir * v
	return dst
}

// nearBar reports whether (x, y) is within barZone of a bar's footprint.
func nearBar(w *World, x, y float64) bool {
	for i := range w.Objects {
		if o := &w.Objects[i]; o.Kind == Bar && FootprintDist(o, x, y) < barZone {
			return true
		}
	}
	return false
}
