// Package benchmark measures the search algorithms of package hpo.
//
// Tuning quality (`skiff bench tuning --table FILE`): a tabular benchmark
// holds every configuration of a discrete space with its result for
// several training seeds, so a search "evaluates" a configuration by
// looking it up and many repeated searches take seconds. The score is the
// regret of the configuration a search would return after N evaluations.
//
// Early stopping (`skiff bench tuning early-stopping`): synthetic learning
// curves whose final values are known measure how much training budget a
// stopper saves and whether the best configuration survives it.
//
// This package reads files (the edge); the algorithms stay pure.
package benchmark
