package scheduler

import (
	"time"

	"skiff.dev/skiff/api/v1alpha1"
)

// Scheduler runs cycles like Schedule and keeps, from one cycle to the
// next, what it derived from each pending job (its key, order, queue and
// request), so that a cycle reads only the jobs it has not seen before,
// and the cycle state itself: nodes, flavor indexes, queues and the
// admitted jobs on them, which the next cycle only brings up to date with
// the admitted jobs that left and came (base.go). The live server, which
// passes the same objects cycle after cycle, uses one, and so do the
// simulators.
//
// It relies on the informer convention: an object (job, node, flavor or
// queue) is never modified once passed in; a changed one is a new object.
// Callers that modify objects in place must use Schedule. A cycle costs
// least when the snapshot's Admitted keeps each job at its position from
// one cycle to the next (e.g. a job that leaves is replaced by the last),
// though any order gives the same plans. A Scheduler is not safe for
// concurrent use.
type Scheduler struct {
	cache jobCache
}

type jobCache struct {
	jobs  map[*v1alpha1.Job]*cachedJob
	cycle uint32
	// a cycle's working arrays, reused by the next (see buffers)
	keys []pendingKey
	qidx []int32
	read []jobInfo
	ents []*cachedJob
	out  []jobInfo
	// prev is the last cycle's pending list and prevEnts its jobs'
	// entries: a cycle whose list runs like the last one finds its
	// entries by position, without the map (see readPending).
	prev     []*v1alpha1.Job
	prevEnts []*cachedJob
	// arenas hold the keys of the jobs read, one per half of readPending
	arenas [2]strArena
	// base is the last cycle's state, brought up to date by the next
	// (see base.go).
	base stateBase
}

// entries returns the per-job cache entry array for n pending jobs (nil
// without a cache).
func (c *jobCache) entries(n int) []*cachedJob {
	if c == nil {
		return nil
	}
	if cap(c.ents) < n {
		c.ents = make([]*cachedJob, n)
	}
	return c.ents[:n]
}

// ordered returns the array the pending jobInfos are laid out in, queue by
// queue, for n jobs.
func (c *jobCache) ordered(n int) []jobInfo {
	if cap(c.out) < n {
		c.out = make([]jobInfo, n)
	}
	return c.out[:n:n]
}

// buffers returns the working arrays for n pending jobs: the cache's,
// reused from the last cycle (no plan refers to them), or new ones
// without a cache. Their contents are stale; readPending overwrites
// every element it later reads.
func (c *jobCache) buffers(n int) ([]pendingKey, []int32, []jobInfo) {
	if c == nil {
		return make([]pendingKey, n), make([]int32, n), make([]jobInfo, n)
	}
	if cap(c.read) < n {
		c.keys, c.qidx, c.read = make([]pendingKey, n), make([]int32, n), make([]jobInfo, n)
	}
	return c.keys[:n], c.qidx[:n], c.read[:n]
}

type cachedJob struct {
	info jobInfo // as a pending job (running is nil)
	// queue is spec.queue, as the name of the queue found for it (so that
	// comparing it with that queue's name need not read the bytes); qi
	// was that queue's index, to be checked against the name.
	queue string
	qi    int32
	pos   int32  // the job's index in the pending list of the last cycle that passed it
	seen  uint32 // the last cycle that passed the job
}

// remember keeps pending and its entries (c.ents, complete once
// readPending has added the jobs it read) for the next cycle, swapping
// the entry arrays so that the next cycle fills the other.
func (c *jobCache) remember(pending []*v1alpha1.Job) {
	c.prev = append(c.prev[:0], pending...)
	c.ents, c.prevEnts = c.prevEnts, c.ents[:len(pending)]
}

// Schedule is Schedule (the function) with the cache.
func (s *Scheduler) Schedule(snap Snapshot, pending []*v1alpha1.Job, now time.Time) Plan {
	c := &s.cache
	if c.jobs == nil {
		c.jobs = make(map[*v1alpha1.Job]*cachedJob, len(pending))
	}
	c.cycle++
	plan := schedule(snap, pending, now, c)
	// Forget the jobs no longer pending once they make up a quarter of the
	// cache, so that sweeping costs little per cycle.
	if len(c.jobs) > len(pending)+len(pending)/4+1024 {
		for j, e := range c.jobs {
			if e.seen != c.cycle {
				delete(c.jobs, j)
			}
		}
	}
	return plan
}
