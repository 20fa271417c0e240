// Package eval runs closed-loop evaluations of a policy and reports them.
//
// It is generic over how an episode runs: Run hands (task, episode) jobs to a
// fixed set of workers and calls an EpisodeFunc for each, passing the worker
// index so the caller can keep one simulator and one policy connection per
// worker. The caller wires the EpisodeFunc to a simulator and a control loop;
// this package only schedules, counts and reports.
//
// Results are stored by (task, episode), never by completion order, so a
// report does not depend on scheduling: the same outcomes give the same
// report with one worker or many (apart from the wall time and the worker
// count it records).
//
// The report gives, per task, suite and overall, the success rate with a 95 %
// Wilson score interval (the usual interval for a binomial proportion; unlike
// the normal approximation it stays inside [0, 1] and is sensible at 0/n and
// n/n, which LIBERO's near-perfect policies hit often), episode lengths,
// errors (an episode that could not run counts as a failure and is listed,
// never dropped), and inference latency percentiles. It is written as JSON,
// as a text table, and as two PNG plots drawn in pure Go (image/png with the
// 7×13 bitmap font of golang.org/x/image/font/basicfont), so reports can be
// made on a headless robot computer with no plotting stack.
package eval
