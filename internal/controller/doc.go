// Package controller holds skiff's level-triggered controllers: the job
// controller that turns admitted Jobs into replica processes and their exits
// into status, and the scheduling loop that feeds the pure scheduler core a
// snapshot and commits its plan, and the elastic grower that restarts
// elastic jobs larger when capacity frees up. Controllers persist intent (the admission
// and the attempt number) before side effects and derive child names from
// it deterministically, so a restart after a crash adopts what already runs
// and never starts a replica twice.
package controller
