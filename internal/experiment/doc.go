// Package experiment runs hyperparameter searches: the Experiment
// controller keeps spec.parallelTrials trials in flight, each an ordinary
// Job named <experiment>-<index> and owned by the Experiment, asks the
// search algorithm (internal/hpo) for each new trial's parameters, reads
// the trials' reported metrics to let early stopping end unpromising ones,
// and ends the experiment with a reason.
//
// The controller is level-triggered and idempotent. A trial is recorded in
// the Experiment's status, with its parameters, before its Job is created,
// so a crash between the two neither loses nor duplicates it: the next
// pass finds the recorded trial without a Job and creates it under the
// same name. The parameters of trial i are computed from the stored trials
// 0..i-1 only, with a seed fixed by the spec (or the Experiment's UID), so
// what a restarted server suggests is what the old one would have.
//
// The decisions are a pure function (advance) of the Experiment and what
// was observed of its trials' Jobs and metrics; Controller does the I/O
// around it.
package experiment
