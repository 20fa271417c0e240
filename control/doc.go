// Package control turns the chunks a policy produces into a stream of
// setpoints at the controller's rate.
//
// Scheduler keeps the chunk(s) being executed in storage allocated once
// (from the longest chunk and the action dimension) and, on every tick,
// interpolates from the policy rate (a chunk's StepPeriod, e.g. 50 ms) to
// the controller rate (e.g. 1 ms) per dimension kind (safety.Kind):
// absolute dims follow a cubic Hermite curve through the actions with
// Catmull-Rom tangents (continuous in position and velocity), delta dims
// are spread evenly over the ticks of their step (the ticks of a step sum
// to the step's delta), binary dims are held. When the two rates are equal
// every kind is the identity. Three modes decide which chunk is executed:
// replan (openpi/LIBERO execute-then-replan, the default), ensemble (ACT
// temporal ensembling) and async (inference overlapped with execution,
// new chunks aligned by observation time and blended in). Stale chunks (an
// older observation than the one executing) are rejected and counted;
// chunks with NaN/Inf or the wrong shape are rejected with an error.
// Push and Tick allocate nothing.
//
// Ticker is a drift-free ticker on an injected efferent.Clock (deadline n
// is start + n·period), which skips and counts missed ticks rather than
// bursting.
//
// Loop ties a policy, a Scheduler, a safety.Gate and a Robot together: the
// tick path never blocks on inference, which runs on its own goroutine
// behind a one-slot request channel (a request while one is already queued
// is dropped and counted). In Virtual mode, for simulation in virtual
// time, inference instead runs synchronously with a modelled latency, so
// runs are exactly reproducible.
//
// Lifecycle: New(conf) (*Loop, error), Run(ctx) error, Close().
package control
