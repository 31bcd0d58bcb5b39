package scheduler

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"time"

	"skiff.dev/skiff/api/v1alpha1"
)

// placer puts one job's replicas on the nodes of one flavor. Every replica
// it assigns is journaled, so a failed or trial placement rolls back
// exactly: a gang is placed whole or not at all.
type placer struct {
	fi      *flavorIndex
	job     *jobInfo
	sizes   []int32 // replicas per group for this attempt
	spread  bool
	end     time.Time // when the job is expected to end; zero = unknown
	journal []placed
	next    []int32   // next replica index per group
	dbuf    []*domain // eachDomain's sorted lists, stacked
	// gbuf holds the GPU indices of an attempt's placements; placements
	// copies a successful attempt's out into blocks of results.
	gbuf    []int32
	plBlock []v1alpha1.Placement
	gBlock  []int32
}

// resultBlock is how many placements, and GPU indices, one block of
// results holds.
const resultBlock = 4096

type placed struct {
	n   *nodeState
	g   int
	req Amounts
	p   v1alpha1.Placement
}

func newPlacer(fi *flavorIndex, j *jobInfo, sizes []int32, end time.Time) *placer {
	return &placer{fi: fi, job: j, sizes: sizes, spread: j.job.Spec.PlacementPolicy == v1alpha1.Spread,
		end: end, next: make([]int32, len(sizes))}
}

// usable reports whether the job may use n: backfill reservations keep
// jobs that could outlast the reserved start off the reserved nodes.
func (pl *placer) usable(n *nodeState) bool {
	if n.reservedUntil.IsZero() {
		return true
	}
	return !pl.end.IsZero() && !pl.end.After(n.reservedUntil)
}

func (pl *placer) rollback(to int) {
	for i := len(pl.journal) - 1; i >= to; i-- {
		e := pl.journal[i]
		e.n.apply(e.req, e.p, -1)
		pl.next[e.g]--
	}
	pl.journal = pl.journal[:to]
}

// placements returns the journaled placements, carved from blocks shared
// by the cycle's results (capped, so that appending to one copies it).
func (pl *placer) placements() []v1alpha1.Placement {
	n := len(pl.journal)
	if n == 0 {
		return []v1alpha1.Placement{}
	}
	if cap(pl.plBlock)-len(pl.plBlock) < n {
		pl.plBlock = make([]v1alpha1.Placement, 0, max(resultBlock, n))
	}
	start := len(pl.plBlock)
	for _, e := range pl.journal {
		p := e.p
		if k := len(p.GPUs); k > 0 {
			if cap(pl.gBlock)-len(pl.gBlock) < k {
				pl.gBlock = make([]int32, 0, max(resultBlock, k))
			}
			g := len(pl.gBlock)
			pl.gBlock = append(pl.gBlock, p.GPUs...)
			p.GPUs = pl.gBlock[g:len(pl.gBlock):len(pl.gBlock)]
		}
		pl.plBlock = append(pl.plBlock, p)
	}
	return pl.plBlock[start:len(pl.plBlock):len(pl.plBlock)]
}

// place tries the whole gang and reports whether it fits. topoFail is set
// when a required topology level had no domain with room.
func (pl *placer) place() (ok, topoFail bool) {
	total := int32(0)
	needWhole := 0
	for g, s := range pl.sizes {
		total += s
		needWhole += int(s) * wholeGPUs(pl.job.groups()[g].req)
	}
	levels := pl.fi.levels
	if pl.job.topo {
		l := levelIndex(pl.fi.flavor, pl.job.job.Spec.Topology.Required)
		if l < 0 {
			return false, true
		}
		if pl.eachDomain(levels[l], needWhole, func(d *domain) bool {
			return pl.placeInDomain(d.nodes, levels[l+1:], total, needWhole)
		}) {
			return true, false
		}
		return false, true
	}
	if total > 1 && len(levels) > 0 {
		// Fewest domains: the narrowest single domain that holds the whole
		// gang wins; only when none does is the gang split across the
		// flavor. A preferred level is therefore always tried (with every
		// narrower one before it) and falls back by construction.
		return pl.placeInDomain(nil, levels, total, needWhole), false
	}
	return pl.placeOn(nil), false
}

// placeInDomain places the gang within nodes (nil: the whole flavor),
// trying first one node, then one domain of each narrower level, then
// all of nodes.
func (pl *placer) placeInDomain(nodes []*nodeState, below [][]*domain, total int32, needWhole int) bool {
	mark := len(pl.journal)
	if total > 1 {
		// Spread asks for the replicas on different nodes, so not on one;
		// the narrower domains below still keep them close.
		if !pl.spread && pl.placeOnOneNode(nodes) {
			return true
		}
		size := len(pl.fi.nodes)
		if nodes != nil {
			size = len(nodes)
		}
		for l := len(below) - 1; l >= 0; l-- {
			ds := below[l]
			if nodes != nil {
				ds = within(ds, nodes)
			}
			if len(ds) >= size {
				continue // one node per domain: already tried above
			}
			if pl.eachDomain(ds, needWhole, func(d *domain) bool {
				if pl.placeOn(d.nodes) {
					return true
				}
				pl.rollback(mark)
				return false
			}) {
				return true
			}
		}
	}
	if pl.placeOn(nodes) {
		return true
	}
	pl.rollback(mark)
	return false
}

// placeOnOneNode puts the whole gang on a single node if one has room.
func (pl *placer) placeOnOneNode(nodes []*nodeState) bool {
	if len(pl.sizes) != 1 {
		return false // mixed groups: the greedy pass below packs them anyway
	}
	req, c := pl.job.groups()[0].req, int(pl.sizes[0])
	n := pl.pick(req, c, nodes, true)
	if n == nil {
		return false
	}
	pl.assign(n, 0, c)
	return true
}

// lazyDomains is how many domains eachDomain finds by scanning before it
// sorts the rest: a gang nearly always fits one of the first few, and
// scanning a level's domains a few times is much cheaper than sorting them.
const lazyDomains = 4

// eachDomain calls try on the domains worth trying until it reports
// success: best fit first for bin packing (the fullest domain that could
// hold the gang), emptiest first for spreading, ties in the order of ds.
// A failed try must leave the domains' free GPUs as it found them, so
// that the order does not change while it is walked.
func (pl *placer) eachDomain(ds []*domain, needWhole int, try func(*domain) bool) bool {
	// before: whether the domain with w whole free GPUs at position i
	// comes before the one with wb at ib.
	before := func(w, i, wb, ib int) bool {
		if w != wb {
			return w < wb != pl.spread
		}
		return i < ib
	}
	lastW, lastI := 0, -1 // the last domain tried; the next comes after it
	for range lazyDomains {
		best := -1
		for i, d := range ds {
			if w := d.wholeFree; w >= needWhole && (lastI < 0 || before(lastW, lastI, w, i)) &&
				(best < 0 || before(w, i, ds[best].wholeFree, best)) {
				best = i
			}
		}
		if best < 0 {
			return false
		}
		if try(ds[best]) {
			return true
		}
		lastW, lastI = ds[best].wholeFree, best
	}
	// The rest, sorted once; the list lives on pl.dbuf above what outer
	// calls keep there.
	start := len(pl.dbuf)
	defer func() { pl.dbuf = pl.dbuf[:start] }()
	for i, d := range ds {
		if w := d.wholeFree; w >= needWhole && before(lastW, lastI, w, i) {
			pl.dbuf = append(pl.dbuf, d)
		}
	}
	rest := pl.dbuf[start:len(pl.dbuf):len(pl.dbuf)]
	slices.SortStableFunc(rest, func(a, b *domain) int {
		if pl.spread {
			return cmp.Compare(b.wholeFree, a.wholeFree)
		}
		return cmp.Compare(a.wholeFree, b.wholeFree)
	})
	for _, d := range rest {
		if try(d) {
			return true
		}
	}
	return false
}

func within(ds []*domain, nodes []*nodeState) []*domain {
	in := map[*nodeState]bool{}
	for _, n := range nodes {
		in[n] = true
	}
	var out []*domain
	for _, d := range ds {
		if len(d.nodes) > 0 && in[d.nodes[0]] {
			out = append(out, d)
		}
	}
	return out
}

func levelIndex(f *v1alpha1.Flavor, key string) int {
	for i, l := range f.Spec.TopologyLevels {
		if l == key {
			return i
		}
	}
	return -1
}

// placeOn places every group greedily on nodes (nil: the flavor's index).
func (pl *placer) placeOn(nodes []*nodeState) bool {
	mark := len(pl.journal)
	for g := range pl.sizes {
		req, c := pl.job.groups()[g].req, int(pl.sizes[g])
		for c > 0 {
			n := pl.pick(req, c, nodes, false)
			if n == nil {
				pl.rollback(mark)
				return false
			}
			k := 1
			if !pl.spread {
				k = min(n.fitsReplicas(req, c), c)
			}
			pl.assign(n, g, k)
			c -= k
		}
	}
	return true
}

// assign places k replicas of group g on n.
func (pl *placer) assign(n *nodeState, g, k int) {
	grp := &pl.job.groups()[g]
	name := pl.job.groupName(g)
	for range k {
		p := v1alpha1.Placement{Group: name, Index: pl.next[g], Node: n.node.Name}
		pl.next[g]++
		req := grp.req
		if w := wholeGPUs(req); w > 0 {
			g := len(pl.gbuf)
			for s := 0; s < len(n.gpus) && len(pl.gbuf)-g < w; s++ {
				if n.gpus[s].used == 0 {
					pl.gbuf = append(pl.gbuf, n.gpus[s].index)
				}
			}
			if len(pl.gbuf) > g {
				p.GPUs = pl.gbuf[g:len(pl.gbuf):len(pl.gbuf)]
			}
		} else if isFractional(req) {
			best := -1
			for s, sl := range n.gpus {
				if sl.used+req.GPUMilli > 1000 {
					continue
				}
				// Bin packing fills the fullest GPU that still fits, so whole
				// GPUs stay free for whole-GPU jobs; spreading takes the emptiest.
				if best < 0 || (!pl.spread && sl.used > n.gpus[best].used) || (pl.spread && sl.used < n.gpus[best].used) {
					best = s
				}
			}
			pl.gbuf = append(pl.gbuf, n.gpus[best].index)
			p.GPUs = pl.gbuf[len(pl.gbuf)-1 : len(pl.gbuf) : len(pl.gbuf)]
			p.GPUMilli = req.GPUMilli
		}
		n.apply(req, p, 1)
		pl.journal = append(pl.journal, placed{n, g, req, p})
	}
}

// pick chooses the next node for up to c replicas of req. Bin packing takes
// the fullest node that holds all c (best fit), else the node that holds
// the most (fewest nodes); spreading takes the emptiest node. With whole
// nodes required (all), only a node holding all c qualifies.
func (pl *placer) pick(req Amounts, c int, nodes []*nodeState, all bool) *nodeState {
	if nodes == nil && req.GPUMilli > 0 {
		return pl.pickIndexed(req, c, all)
	}
	if nodes == nil {
		nodes = pl.fi.nodes
	}
	var best *nodeState
	bestK, bestRoom := 0, 0
	for _, n := range nodes {
		if !pl.usable(n) {
			continue
		}
		k := n.fitsReplicas(req, c)
		if k == 0 || (all && k < c) {
			continue
		}
		if pl.spread {
			// The emptiest node first: its room for replicas, not capped
			// at the c still to place (which would tie every node with
			// room for them all).
			if room := n.fitsReplicas(req, math.MaxInt32); best == nil || room > bestRoom {
				best, bestK, bestRoom = n, k, room
			}
			continue
		}
		switch {
		case best == nil:
		case k >= c && (bestK < c || k < bestK):
		case k < c && bestK < c && k > bestK:
		default:
			continue
		}
		best, bestK = n, k
	}
	return best
}

// pickIndexed is pick over the flavor's free-GPU buckets instead of a scan.
func (pl *placer) pickIndexed(req Amounts, c int, all bool) *nodeState {
	fi := pl.fi
	var found *nodeState
	scan := func(set *bitset, wantAll bool) bool {
		set.each(func(o int) bool {
			n := fi.byOrd[o]
			if !pl.usable(n) {
				return true
			}
			if k := n.fitsReplicas(req, c); k == 0 || (wantAll && k < c) {
				return true
			}
			found = n
			return false
		})
		return found != nil
	}
	w := wholeGPUs(req)
	if isFractional(req) {
		w = 1
		// Bin packing tries partly used GPUs first, so fractional replicas
		// share devices and whole GPUs stay free; spreading tries them last.
		if !pl.spread && scan(&fi.shared, all) {
			return found
		}
	}
	if pl.spread {
		for b := len(fi.buckets) - 1; b >= w; b-- {
			if scan(&fi.buckets[b], all) {
				return found
			}
		}
	} else {
		// Best fit: the fullest bucket that could hold all c replicas.
		for b := min(w*c, len(fi.buckets)); b < len(fi.buckets); b++ {
			if scan(&fi.buckets[b], true) {
				return found
			}
		}
		if !all {
			for b := len(fi.buckets) - 1; b >= w; b-- {
				if scan(&fi.buckets[b], false) {
					return found
				}
			}
		}
	}
	if isFractional(req) && pl.spread && scan(&fi.shared, all) {
		return found
	}
	return nil
}

// appendFreeSummary describes a flavor's free GPUs for waiting reasons.
func (fi *flavorIndex) appendFreeSummary(b []byte) []byte {
	whole, nodes := 0, 0
	for k := range fi.buckets {
		whole += k * fi.buckets[k].n
		if k > 0 {
			nodes += fi.buckets[k].n
		}
	}
	b = strconv.AppendInt(b, int64(whole), 10)
	b = append(b, " whole GPUs free on "...)
	b = strconv.AppendInt(b, int64(nodes), 10)
	b = append(b, " of "...)
	b = strconv.AppendInt(b, int64(len(fi.nodes)), 10)
	return append(b, " schedulable nodes"...)
}
