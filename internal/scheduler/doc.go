// Package scheduler is skiff's pure scheduling core: a function from a
// snapshot of nodes, flavors, queues and admitted jobs, plus the pending
// jobs and the current time, to a Plan of admissions, preemptions, waiting
// reasons and queue usage. It does no I/O and reads no clock, so the live
// server, the simulator and the tests drive the very same code. One
// committer outside this package applies a Plan to the store.
//
//   - quota.go: nominal quota per flavor and resource, cohorts that pool
//     what members lend (lendingLimit), borrowingLimit, and the weighted
//     dominant-resource share that orders queues within a cohort.
//   - schedule.go: the cycle. Queues take turns by share (heap.go; a queue
//     whose head job is nominated, status.nominatedFlavor, first), jobs within a
//     queue by priority then arrival; StrictFIFO stops at the first job that
//     does not fit, BestEffortFIFO goes on. Flavors are tried in the order
//     the queue lists them; elastic groups shrink towards minReplicas.
//     With spec.leastAttainedService, jobs of equal priority go by level;
//     with its scope Cohort, the cohort's queues take turns by their head's
//     priority, level and arrival before share.
//   - place.go, nodes.go: gang placement. Nodes are indexed per flavor by
//     free whole GPUs; a gang goes to the fewest topology domains (one
//     node, then the narrowest level), bin-packing by default or spreading;
//     fractional GPUs share devices by milli-GPU.
//   - preempt.go: within-queue preemption by priority (and level) and
//     reclaim of lent quota (with leastAttainedService scope Cohort, also of
//     borrowed capacity by a borrower of a lower level); victims are the
//     fewest, lowest-priority, highest-level, most recently started.
//     While a preemptor waits for its victims its request is held in the
//     quota and the free part of its placement on the nodes, and the
//     committer nominates it, so the room it freed is its own.
//   - attained.go: a queue's leastAttainedService levels, derived from the
//     job's status.attainedGPUSeconds and status.admission.time and now.
//   - backfill.go: reservations for blocked jobs from running jobs'
//     expected ends, so backfilled jobs never delay them: of nodes for a
//     job blocked on node room, of its queue's quota for one blocked on
//     quota.
//   - feasible.go: the admission-time check that a job could ever run.
//   - memo.go: within a cycle, a queue's quota failures are remembered so
//     that jobs asking for the same thing reuse the outcome.
//   - cache.go: Scheduler, which keeps what it read from pending jobs
//     between cycles (the live server's way of calling the core);
//     base.go: the cycle state it keeps, updated from the admitted jobs
//     that changed, with each cycle's own changes undone.
package scheduler
