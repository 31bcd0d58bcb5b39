// Package hpo holds the hyperparameter search algorithms: a search space,
// suggesters (random, grid, TPE) that propose the parameters of the next
// trial, and stoppers (ASHA, Hyperband, median stopping) that decide whether
// a running trial should end early.
//
// The package is pure: no I/O, no clock, no goroutines. Every decision is a
// function of the space, the algorithm's settings, a seed and the list of
// trials so far, so a controller can resume after a restart from its stored
// trial list alone:
//
//   - Suggest(trials) proposes trial number len(trials). Its randomness is
//     drawn from a generator seeded by (seed, len(trials)), never from state
//     kept in memory between calls, so asking again with the same list gives
//     the same answer. A controller must therefore store the suggestion (the
//     trial and its parameters) before it starts the trial's workload.
//   - ShouldStop(trials, i) looks at trial i's latest report and at what the
//     other trials reported at comparable steps.
//
// Parameters travel as strings (Assignment), formatted canonically, because
// that is how they are stored in an Experiment's status and substituted into
// a trial's command line; Space.Encode parses them back.
//
// TPE is written here rather than taken from github.com/c-bata/goptuna
// v0.9.0: that sampler keeps a mutable math/rand generator inside the
// sampler (suggestions depend on call history, not on the trial list), needs
// a Study and its storage, has only univariate TPE and string categoricals,
// and its Parzen log-density sums logs where a log-sum-exp is meant and
// computes the truncation mass as w*Φ(high)-Φ(low), which can go negative.
package hpo
