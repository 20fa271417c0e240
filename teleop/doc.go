// Package teleop lets a human drive beside the policy. A Mux is the first
// gate of a run's chain: in Policy mode the policy's setpoints pass and
// the teleoperator's commands are only compared with them (a shadow); in
// Takeover mode the teleoperator's command replaces the setpoint and the
// policy runs in the shadow. Either way every setpoint then passes the
// rest of the chain — e-stop, watchdog, limits, motion gate — so a human
// is held to the same limits as the policy.
//
// Commands arrive from another goroutine (the viewer's websocket) and
// are published to the tick by one atomic pointer swap; Check allocates
// nothing and never blocks (the comparison statistics are skipped for a
// tick when a reader holds them).
package teleop
