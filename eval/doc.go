// Package eval runs closed-loop evaluations of a policy and reports them.
//
// RunSuites evaluates a policy on the built-in simulator's task suites
// (efferent eval): every task for a number of episodes, episode e from the
// task's fixed initial state e as LIBERO does, in virtual time, each
// episode through rig.Episode — the same control loop, scheduler and gate
// chain as efferent run. Run is the generic part under it: it hands (task,
// episode) jobs to a fixed set of workers and calls an EpisodeFunc for
// each, passing the worker index so the caller can keep one simulator and
// one policy (or one connection to a remote policy) per worker; SimEpisodes
// is the EpisodeFunc for the simulator.
//
// Results are stored by (task, episode), never by completion order, so a
// report does not depend on scheduling: the same outcomes give the same
// report with one worker or many (apart from the wall time and the worker
// count it records). An episode that could not run counts as a failure and
// is listed, never dropped, and RunSuites fails when any did: such a report
// is not a measurement of the policy.
//
// The report gives, per task, suite and overall, the success rate with a 95 %
// Wilson score interval (the usual interval for a binomial proportion; unlike
// the normal approximation it stays inside [0, 1] and is sensible at 0/n and
// n/n, which LIBERO's near-perfect policies hit often), episode lengths,
// errors, and inference latency percentiles. It is written as JSON, as a
// text table, and as two PNG plots drawn in pure Go (image/png with the
// 7×13 bitmap font of golang.org/x/image/font/basicfont), so reports can be
// made on a headless robot computer with no plotting stack.
//
// RunPremise measures the false-premise checker on the simulator's true
// and false premise tasks (precision and recall of refusals, false
// refusals, clarifications), and WriteComparison draws the comparison of a
// policy with a teleoperator or a recording (PNG, HTML, JSON).
package eval
