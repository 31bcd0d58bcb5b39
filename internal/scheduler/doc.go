// Package scheduler is skiff's pure scheduling core: a function from a
// snapshot of nodes, flavors, queues and admitted jobs, plus the pending
// jobs and the current time, to a Plan of admissions and reasons. It does no
// I/O and reads no clock, so the live server, the simulator and the tests
// drive the very same code. One committer outside this package applies a
// Plan to the store with optimistic concurrency.
//
// This first version orders each queue by priority then arrival, honours
// StrictFIFO and BestEffortFIFO, checks nominal quota per flavor and
// resource, admits a whole gang or nothing, places replicas first-fit on the
// nodes a flavor selects and hands out whole GPUs exclusively by index.
package scheduler
