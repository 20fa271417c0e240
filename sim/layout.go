package sim

import (
	"fmt"
	"math"
	"strconv"
)

// Object centres are drawn inside this region of the table, which the
// agent view sees whole and the gripper reaches with room to push.
var (
	regionMin = [2]float64{-0.17, -0.26}
	regionMax = [2]float64{0.21, 0.26}
)

// Layout parameters.
const (
	templateGap = 0.03  // free space between footprints in a template
	jitterPos   = 0.012 // per-init position jitter, ± metres per axis
	jitterYaw   = 0.2   // per-init yaw jitter of blocks and the basket, ± radians
	jitterGap   = 0.008 // footprints stay at least this far apart after jitter
	startJitter = 0.01  // per-init jitter of the gripper's start, ± metres per axis
)

// HomePos is the grip point's position before per-init jitter.
var HomePos = Vec3{-0.12, 0, TableZ + 0.25}

// layout returns the objects of initial state init of t and the gripper's
// start position. The template (positions and yaws for the task's Layout)
// comes from a seed of (suite, layout), or from goalTemplate for the goal
// suite; the state then jitters every object and the gripper with a seed of
// (suite, task index, init). Missing is removed last, so it leaves a gap.
func (t Task) layout(init int) ([]Object, Vec3, error) {
	objs, err := t.template()
	if err != nil {
		return nil, Vec3{}, err
	}
	r := rng{s: t.Seed(init)}
	base := make([]Object, len(objs))
	copy(base, objs)
	for range 100 {
		for i := range objs {
			o := &objs[i]
			o.Pos[0] = base[i].Pos[0] + r.uniform(-jitterPos, jitterPos)
			o.Pos[1] = base[i].Pos[1] + r.uniform(-jitterPos, jitterPos)
			if o.Kind == Block || o.Kind == Basket {
				o.Yaw = base[i].Yaw + r.uniform(-jitterYaw, jitterYaw)
			}
		}
		if separated(objs, jitterGap) {
			break
		}
		copy(objs, base) // a rejected draw; the next one starts afresh
	}
	start := HomePos
	for k := range start {
		start[k] += r.uniform(-startJitter, startJitter)
	}
	out := objs[:0]
	for _, o := range objs {
		if o.Name != t.Missing {
			o.Start = o.Pos
			out = append(out, o)
		}
	}
	return out, start, nil
}

// template places the task's Scene, deterministically for (suite, Layout).
func (t Task) template() ([]Object, error) {
	objs := make([]Object, len(t.Scene))
	for i, n := range t.Scene {
		o, err := NewObject(n)
		if err != nil {
			return nil, err
		}
		objs[i] = o
	}
	if t.Suite == SuiteGoal {
		fixed := true
		for i := range objs {
			p, ok := goalTemplate[objs[i].Name]
			if !ok {
				fixed = false
				break
			}
			objs[i].Pos[0], objs[i].Pos[1] = p[0], p[1]
		}
		if fixed {
			return objs, nil
		}
	}
	// Large objects first: random sequential placement packs better.
	order := make([]int, len(objs))
	for i := range order {
		order[i] = i
	}
	for i := 1; i < len(order); i++ {
		for j := i; j > 0 && objs[order[j]].Radius() > objs[order[j-1]].Radius(); j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
	r := rng{s: seedOf(t.Suite, "layout", strconv.Itoa(t.Layout))}
	for range 200 {
		ok := true
		for n, i := range order {
			o := &objs[i]
			rad := o.Radius()
			placed := false
			for range 400 {
				o.Pos[0] = r.uniform(regionMin[0]+rad, regionMax[0]-rad)
				o.Pos[1] = r.uniform(regionMin[1]+rad, regionMax[1]-rad)
				switch o.Kind {
				case Block:
					o.Yaw = r.uniform(-math.Pi/4, math.Pi/4)
				case Basket:
					o.Yaw = r.uniform(-0.3, 0.3)
				}
				if clearOf(o, objs, order[:n], templateGap) {
					placed = true
					break
				}
			}
			if !placed {
				ok = false
				break
			}
		}
		if ok {
			return objs, nil
		}
	}
	return nil, fmt.Errorf("sim: task %q: no layout fits the table", t.Name)
}

// clearOf reports whether o keeps gap from each of the objects others.
func clearOf(o *Object, objs []Object, others []int, gap float64) bool {
	for _, j := range others {
		if o.Pos.DistXY(objs[j].Pos) < o.Radius()+objs[j].Radius()+gap {
			return false
		}
	}
	return true
}

func separated(objs []Object, gap float64) bool {
	for i := range objs {
		for j := i + 1; j < len(objs); j++ {
			if objs[i].Pos.DistXY(objs[j].Pos) < objs[i].Radius()+objs[j].Radius()+gap {
				return false
			}
		}
	}
	return true
}
