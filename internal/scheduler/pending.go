package scheduler

import (
	"cmp"
	"slices"
	"strings"

	"skiff.dev/skiff/api/v1alpha1"
)

// pendingJobs are a cycle's pending jobs, read once into compact
// jobInfos that lie in one array queue by queue, each queue's in the order
// it considers them.
type pendingJobs struct {
	infos []jobInfo
	// segs[q]: the end of queue q's jobs in infos (they start where the
	// previous queue's end)
	segs []int32
	// missing are the jobs whose queue does not exist, with their reasons,
	// in submission order.
	missing []waitEntry
}

// pendingKey is what orders a queue's pending jobs: priority (high
// first), attained-service level (low first), creation time, namespace
// and name, then submission order.
type pendingKey struct {
	sec   int64
	nsec  int32
	prio  int32
	level int32 // least-attained-service level (see attained.go)
	pos   int32 // index in the pending slice; the queue's index before sorting
}

// class is what the order compares first: priority, then level.
type class struct{ prio, level int32 }

func (k *pendingKey) class() class { return class{k.prio, k.level} }

// before orders classes: higher priority first, then lower level.
func (c class) before(d class) bool { return outranks(c.prio, c.level, d.prio, d.level) }

func comparePending(a, b *pendingKey, pending []*v1alpha1.Job) int {
	if a.prio != b.prio {
		return cmp.Compare(b.prio, a.prio)
	}
	if a.level != b.level {
		return cmp.Compare(a.level, b.level)
	}
	if c := compareCreated(a.sec, a.nsec, b.sec, b.nsec); c != 0 {
		return c
	}
	ja, jb := pending[a.pos], pending[b.pos]
	if c := strings.Compare(ja.Namespace, jb.Namespace); c != 0 {
		return c
	}
	if c := strings.Compare(ja.Name, jb.Name); c != 0 {
		return c
	}
	return cmp.Compare(a.pos, b.pos)
}

// sortPending sorts one queue's keys, which come in submission order, by
// comparePending; buf is scratch space, returned for reuse. Jobs mostly
// arrive in creation order and use a few priorities and levels, so the
// keys are split by class (priority and level, keeping their order), and
// only a class's run that is out of order is sorted. The order is total,
// so the result is the one any sort gives.
func sortPending(seg []pendingKey, pending []*v1alpha1.Job, buf []pendingKey) []pendingKey {
	if len(seg) < 2 {
		return buf
	}
	const maxClasses = 8
	var classes [maxClasses]class
	var counts [maxClasses]int
	np := 0
	for i := range seg {
		p := seg[i].class()
		k := 0
		for k < np && classes[k] != p {
			k++
		}
		if k == np {
			if np == maxClasses {
				slices.SortFunc(seg, func(a, b pendingKey) int { return comparePending(&a, &b, pending) })
				return buf
			}
			classes[k] = p
			np++
		}
		counts[k]++
	}
	// Classes first to last, with their counts.
	for i := 1; i < np; i++ {
		for k := i; k > 0 && classes[k].before(classes[k-1]); k-- {
			classes[k], classes[k-1] = classes[k-1], classes[k]
			counts[k], counts[k-1] = counts[k-1], counts[k]
		}
	}
	if np > 1 {
		var at [maxClasses]int
		for k := 1; k < np; k++ {
			at[k] = at[k-1] + counts[k-1]
		}
		buf = append(buf[:0], seg...)
		for i := range buf {
			k := 0
			for classes[k] != buf[i].class() {
				k++
			}
			seg[at[k]] = buf[i]
			at[k]++
		}
	}
	lo := 0
	for k := range np {
		run := seg[lo : lo+counts[k]]
		lo += counts[k]
		sortRun(run, pending)
	}
	return buf
}

// sortRun sorts one class's keys. They usually come almost in order (the
// live loop hands jobs over in the order they became pending; jobs created
// in the same second are ordered by name, not by arrival), so insertion
// sort runs first, costing a comparison per key plus a move per key out
// of place; past a budget of moves the rest goes to a general sort.
func sortRun(run []pendingKey, pending []*v1alpha1.Job) {
	budget := 8 * len(run)
	for i := 1; i < len(run); i++ {
		if comparePending(&run[i-1], &run[i], pending) <= 0 {
			continue
		}
		x := run[i]
		j := i
		for j > 0 && comparePending(&run[j-1], &x, pending) > 0 {
			run[j] = run[j-1]
			j--
		}
		run[j] = x
		if budget -= i - j; budget < 0 {
			// Still a permutation of the keys: the order is total, so
			// any sort gives the same result.
			slices.SortFunc(run, func(a, b pendingKey) int { return comparePending(&a, &b, pending) })
			return
		}
	}
}

// readPending hands the pending jobs to their queues: it reads every job
// once, in submission order (which walks them through memory as they were
// made), into a compact jobInfo with its order key, orders each queue's
// jobs by those small keys, then moves the jobInfos, in place, into queue
// order. It reads only the queues' names and positions, so it may run
// beside addNodes.
func (st *state) readPending(pending []*v1alpha1.Job) *pendingJobs {
	pj := &pendingJobs{segs: make([]int32, len(st.queueList))}
	keys, qidx, read := st.cache.buffers(len(pending)) // read: in submission order, at first
	ents := st.cache.entries(len(pending))             // with a cache: each job's entry (nil for a job read this cycle, until it gets one)
	var prev []*v1alpha1.Job                           // the last cycle's pending jobs
	var prevEnts []*cachedJob                          // and their entries
	if st.cache != nil {
		prev, prevEnts = st.cache.prev, st.cache.prevEnts
	}
	// The jobs are read in two halves when there are many.
	half := len(pending)
	if len(pending) >= parallelMin {
		half = len(pending) / 2
	}
	type halfResult struct {
		counts  []int32
		missing []waitEntry
		misses  []int32 // jobs the cache did not know, to add to it
	}
	cache := st.cache
	// The jobs' keys are carved from an arena per half; a cache keeps its
	// arenas, so that a cycle that reads a job or two does not start a new
	// block.
	var arenas [2]strArena
	arena := &arenas
	if cache != nil {
		arena = &cache.arenas
	}
	readHalf := func(lo, hi int, r *halfResult, arena *strArena) {
		r.counts = make([]int32, len(st.queueList))
		var missing map[string]string
		var last *queueState
		var kb []byte
		// storage for jobs with other than one group
		var more []groupInfo
		var headers [][]groupInfo
		// off aligns this cycle's jobs with the last cycle's: pending[i]
		// was last at prev[i+off] when the two lists run alike.
		off := 0
		for i := lo; i < hi; i++ {
			j := pending[i]
			var known *cachedJob
			var name string
			if cache != nil {
				if k := i + off; k < len(prev) && prev[k] == j {
					known = prevEnts[k]
				} else if known = cache.jobs[j]; known != nil {
					off = int(known.pos) - i
				}
			}
			q := last
			if known != nil {
				// known.queue is the name of the queue found for it, so the
				// names compare equal without reading their bytes.
				name = known.queue
				if qi := int(known.qi); q == nil || q.name != name {
					if qi < len(st.queueList) && st.queueList[qi].name == name {
						q = st.queueList[qi]
					} else {
						q = st.queues[name]
					}
				}
			} else {
				name = j.Spec.Queue
				if q == nil || q.name != name {
					q = st.queues[name]
				}
			}
			if q == nil {
				qidx[i] = -1
				if cache != nil {
					ents[i] = nil // so that the next cycle does not find a stale entry here
				}
				reason, ok := missing[name]
				if !ok {
					if missing == nil {
						missing = map[string]string{}
					}
					reason = "queue " + quote(name) + " does not exist: create it or change spec.queue"
					missing[name] = reason
				}
				r.missing = append(r.missing, waitEntry{Key(j), reason})
				keys[i] = pendingKey{pos: int32(i)}
				continue
			}
			last = q
			qidx[i] = int32(q.idx)
			r.counts[q.idx]++
			ji := &read[i]
			if known != nil {
				// Copied once, straight to its place in queue order, below.
				known.seen, known.pos = cache.cycle, int32(i)
				ents[i] = known
				info := &known.info
				// The level is the queue's reading of the job's status,
				// and the queue's thresholds may have changed (without
				// them the job is not read at all).
				info.level = 0
				if q.las != nil {
					info.level = AttainedLevel(q.las, float64(j.Status.AttainedGPUSeconds))
				}
				keys[i] = pendingKey{sec: info.sec, nsec: info.nsec, prio: info.prio, level: info.level, pos: int32(i)}
				continue
			}
			if cache != nil {
				ents[i] = nil
			}
			kb = append(kb[:0], j.Namespace...)
			kb = append(kb, '/')
			kb = append(kb, j.Name...)
			*ji = jobInfo{job: j, key: arena.str(kb)}
			var g *[]groupInfo
			if n := len(j.Spec.ReplicaGroups); n != 1 {
				if cap(more)-len(more) < n {
					more = make([]groupInfo, 0, max(n, 64))
				}
				if len(headers) == cap(headers) {
					headers = make([][]groupInfo, 0, 16)
				}
				headers = append(headers, more[len(more):len(more)+n:len(more)+n])
				more = more[:len(more)+n]
				g = &headers[len(headers)-1]
			}
			ji.fill(g)
			// A pending job holds nothing: its level is what its earlier
			// admissions attained.
			if q.las != nil {
				ji.level = AttainedLevel(q.las, float64(j.Status.AttainedGPUSeconds))
			}
			keys[i] = pendingKey{sec: ji.sec, nsec: ji.nsec, prio: ji.prio, level: ji.level, pos: int32(i)}
			if cache != nil {
				r.misses = append(r.misses, int32(i))
			}
		}
	}
	var first, second halfResult
	if half < len(pending) {
		var failed any
		done := make(chan struct{})
		go func() {
			defer close(done)
			defer func() { failed = recover() }() // re-raised below
			readHalf(half, len(pending), &second, &arena[1])
		}()
		readHalf(0, half, &first, &arena[0])
		<-done
		if failed != nil {
			panic(failed)
		}
	} else {
		readHalf(0, len(pending), &first, &arena[0])
	}
	pj.missing = append(first.missing, second.missing...)
	if cache != nil {
		for _, misses := range [][]int32{first.misses, second.misses} {
			for _, i := range misses {
				q := st.queueList[qidx[i]]
				e := &cachedJob{info: read[i], queue: q.name, qi: int32(q.idx), pos: int32(i), seen: cache.cycle}
				cache.jobs[pending[i]] = e
				ents[i] = e
			}
		}
		cache.remember(pending)
	}
	// Queue by queue, in submission order (counts become the ends).
	counts := pj.segs
	n := int32(0)
	for q := range counts {
		c := first.counts[q]
		if second.counts != nil {
			c += second.counts[q]
		}
		n += c
		counts[q] = n
	}
	next := make([]int32, len(counts))
	for q := range counts {
		if q > 0 {
			next[q] = counts[q-1]
		}
	}
	// Each job's place in queue order (those without a queue after the
	// rest, in submission order); the keys move there.
	dest := qidx
	m := n
	for i, qi := range dest {
		if qi >= 0 {
			dest[i] = next[qi]
			next[qi]++
		} else {
			dest[i] = m
			m++
		}
	}
	permute(keys, dest)
	sorted := keys[:n]
	var out []jobInfo
	if cache != nil {
		out = cache.ordered(int(n))
	}
	// Each queue is sorted on its own, so two goroutines split the queues
	// and the result does not depend on how.
	sortQueues := func(from, to int) {
		start := int32(0)
		if from > 0 {
			start = pj.segs[from-1]
		}
		var buf []pendingKey
		for q := from; q < to; q++ {
			lo := start
			seg := sorted[lo:pj.segs[q]]
			start = pj.segs[q]
			buf = sortPending(seg, pending, buf)
			// With a cache each jobInfo is copied from its entry to its
			// key's place, by the goroutine that sorted the keys.
			if out != nil {
				for k := range seg {
					out[int(lo)+k] = ents[seg[k].pos].info
				}
			}
		}
	}
	if int(n) >= parallelMin {
		k := 0
		for k < len(pj.segs) && pj.segs[k] < n/2 {
			k++
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			sortQueues(k, len(pj.segs))
		}()
		sortQueues(0, k)
		<-done
	} else {
		sortQueues(0, len(pj.segs))
	}
	if cache != nil {
		pj.infos = out
		return pj
	}
	// The jobInfos move to their keys' places.
	for k := range keys {
		dest[keys[k].pos] = int32(k)
	}
	permute(read, dest)
	pj.infos = read[:n:n]
	return pj
}

// permute moves s[i] to s[dest[i]] for every i, in place; dest, a
// permutation, ends up as the identity.
func permute[T any](s []T, dest []int32) {
	for i := range dest {
		for d := dest[i]; d != int32(i); d = dest[i] {
			s[i], s[d] = s[d], s[i]
			dest[i], dest[d] = dest[d], d
		}
	}
}

// parallelMin is the number of pending jobs from which a cycle splits
// its preparation over two goroutines.
var parallelMin = 4096 // a variable so that tests can force either path

// queue gives the queues their pending jobs and records a reason for
// every job whose queue does not exist.
func (pj *pendingJobs) queue(st *state) {
	for _, e := range pj.missing {
		st.waiting.set(e.key, e.reason)
	}
	start := int32(0)
	for q, end := range pj.segs {
		st.queueList[q].pending = pj.infos[start:end:end]
		start = end
	}
}
