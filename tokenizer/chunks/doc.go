// Package chunks fits and checks residual-VQ action tokenizers on
// demonstrations: it is `efferent tokenizer fit` and `check` as a library,
// so that the rules a codebook is fitted by (below) live beside the code
// that applies them (package vq), where they are tested and importable,
// rather than in the command.
//
// Demonstrations are the episodes "efferent sim demos" writes, read by
// sim.ReadDemoActions (the one reader of that format).
//
// Chunks: for every episode (T actions of D = 7 dims) and every step t in
// 0..T−1, the chunk is actions[t : t+H]; steps past the episode's end
// repeat its LAST action (so an episode of T steps gives exactly T chunks,
// and the final chunks hold the robot at its last command). Training code
// must build its targets by the same rule.
//
// Statistics: q01 and q99 are the 1st and 99th percentiles of each action
// dim over every action of the training episodes (not the padded chunks),
// by linear interpolation between order statistics — numpy's default
// np.quantile(a, [0.01, 0.99], axis=0): with the n values sorted,
// position p·(n−1), interpolated between its neighbours. Dims 0–5 are
// normalised to x = clip(2(a − q01)/(q99 − q01) − 1, −1, 1) (0 when
// q99 = q01); dim 6, the gripper, passes through unchanged (mask false).
//
// Hold-out: an episode is held out when FNV-1a-64 of its path relative to
// the demonstrations' root (slash-separated, e.g. "spatial/3_7") modulo
// 1 000 000 is below holdout × 1 000 000; the choice depends on nothing
// else, so it is stable when episodes are added. stats.json lists the
// held-out episodes.
//
// Fit and Check take their Conf from the commands' flags, and their errors
// name the flags (--demos, --chunk, …) so that the command can return them
// as they are.
package chunks
