//go:build pins

// Package pins keeps the versions of dependencies chosen for later parts
// (the ROS bridge's goroslib, gonum for calibration) pinned in go.mod before
// any package imports them, so `go mod tidy` does not drop them. It is never
// built (the "pins" build tag is never set).
package pins

import (
	_ "github.com/bluenviron/goroslib/v2"
	_ "gonum.org/v1/gonum/mat"
)
