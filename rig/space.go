package rig

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/efferent/efferent/robot"
	"github.com/efferent/efferent/safety"
)

// Space is a robot's action space: what each dimension of a setpoint is.
// The scheduler interpolates and the gates limit each dimension by its
// kind; the viewer and the comparisons name it; teleop and the comparison
// of a teleoperator with the policy treat the gripper apart. It is the one
// place that knows the 7-d LIBERO layout and where its gripper is.
type Space struct {
	// Names name the dimensions (x, y, z, roll, pitch, yaw, gripper).
	Names []string
	// Kinds say how each dimension is interpolated and limited.
	Kinds []safety.Kind
	// Gripper is the index of the binary gripper dimension; -1: none.
	Gripper int
}

// Dim is the number of action dimensions.
func (s Space) Dim() int { return len(s.Kinds) }

// LIBERO is the simulator's and LIBERO's 7-d action: Δposition and
// Δaxis-angle of the end effector, then the gripper (−1 open, +1 closed).
func LIBERO() Space {
	return Space{
		Names:   []string{"x", "y", "z", "roll", "pitch", "yaw", "gripper"},
		Kinds:   []safety.Kind{safety.Delta, safety.Delta, safety.Delta, safety.Delta, safety.Delta, safety.Delta, safety.Binary},
		Gripper: 6,
	}
}

// DimSpace is the space of a policy known only by its action dimension (a
// recording, a comparison): LIBERO's when it has 7 dimensions, otherwise
// absolute values without a gripper.
func DimSpace(dim int) Space {
	if dim == 7 {
		return LIBERO()
	}
	s := Space{Names: make([]string, dim), Kinds: make([]safety.Kind, dim), Gripper: -1}
	for i := range s.Names {
		s.Names[i] = fmt.Sprintf("d%d", i)
	}
	return s
}

// ProfileSpace is the action space of a robot profile's mapping:
// ee_delta is LIBERO's (deltas and a binary gripper); joint positions,
// twists and command vectors are absolute values.
func ProfileSpace(p *robot.Profile) Space {
	d := p.Action.Dim
	s := Space{Names: make([]string, d), Kinds: make([]safety.Kind, d), Gripper: -1}
	libero := LIBERO()
	if p.Action.Mapping == robot.MappingEEDelta {
		for i := range s.Kinds {
			s.Kinds[i] = safety.Delta
		}
		s.Kinds[libero.Gripper] = safety.Binary
		s.Gripper = libero.Gripper
	}
	for i := range s.Names {
		switch {
		case p.Action.Mapping == robot.MappingEEDelta && i < len(libero.Names):
			s.Names[i] = libero.Names[i]
		case p.Action.Mapping == robot.MappingTwist && i < 3:
			s.Names[i] = []string{"vx", "vy", "wz"}[i]
		case p.Action.Mapping == robot.MappingJointPosition && i < len(p.Command.JointNames):
			s.Names[i] = p.Command.JointNames[i]
		case p.Action.Mapping == robot.MappingJointPosition:
			s.Names[i] = fmt.Sprintf("joint%d", i+1)
		default:
			s.Names[i] = fmt.Sprintf("d%d", i)
		}
	}
	return s
}

// DimMismatch is the error for a policy whose actions do not have the
// profile's dims: it says how to map them (action.policy_dims).
func DimMismatch(p *robot.Profile, policyName string, dim int) error {
	what, eg := p.Action.Mapping, ""
	switch p.Action.Mapping {
	case robot.MappingTwist:
		what = "twist: vx, vy, wz"
		if dim >= 3 {
			eg = "[0, 1, 2]"
		}
	case robot.MappingEEDelta:
		what = "ee_delta: Δxyz, Δaxis-angle, gripper"
	}
	if eg == "" && dim >= p.Action.Dim {
		idx := make([]string, p.Action.Dim)
		for i := range idx {
			idx[i] = strconv.Itoa(i)
		}
		eg = "[" + strings.Join(idx, ", ") + "]"
	}
	msg := fmt.Sprintf("robot profile %s takes %d-dim actions (%s), policy %s produces %d", p.Name, p.Action.Dim, what, policyName, dim)
	if eg == "" {
		return fmt.Errorf("%s: the policy has too few action dims for this robot", msg)
	}
	return fmt.Errorf("%s: to drive the robot with %d of its dims, say which in a profile of your own: a YAML file with `base: %s` and `action: {policy_dims: %s}` "+
		"(entry i: the policy's dim that drives the profile's dim i; the others are dropped), then --robot FILE", msg, p.Action.Dim, p.Name, eg)
}
