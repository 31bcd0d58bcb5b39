package scheduler

import (
	"cmp"
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
	dbuf    []*domain // domainOrder's lists, stacked
}

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

func (pl *placer) placements() []v1alpha1.Placement {
	out := make([]v1alpha1.Placement, len(pl.journal))
	for i, e := range pl.journal {
		out[i] = e.p
	}
	return out
}

// place tries the whole gang and reports whether it fits. topoFail is set
// when a required topology level had no domain with room.
func (pl *placer) place() (ok, topoFail bool) {
	total := int32(0)
	needWhole := 0
	for g, s := range pl.sizes {
		total += s
		needWhole += int(s) * wholeGPUs(pl.job.groups[g].req)
	}
	topo := pl.job.job.Spec.Topology
	levels := pl.fi.levels
	if topo != nil && topo.Required != "" {
		l := levelIndex(pl.fi.flavor, topo.Required)
		if l < 0 {
			return false, true
		}
		mark := len(pl.dbuf)
		defer func() { pl.dbuf = pl.dbuf[:mark] }()
		for _, d := range pl.domainOrder(levels[l], needWhole) {
			if pl.placeInDomain(d.nodes, levels[l+1:], total, needWhole) {
				return true, false
			}
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
		if pl.placeOnOneNode(nodes) {
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
			dmark := len(pl.dbuf)
			for _, d := range pl.domainOrder(ds, needWhole) {
				if pl.placeOn(d.nodes) {
					pl.dbuf = pl.dbuf[:dmark]
					return true
				}
				pl.rollback(mark)
			}
			pl.dbuf = pl.dbuf[:dmark]
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
	req, c := pl.job.groups[0].req, int(pl.sizes[0])
	n := pl.pick(req, c, nodes, true)
	if n == nil {
		return false
	}
	pl.assign(n, 0, c)
	return true
}

// domainOrder lists the domains worth trying, best fit first for bin
// packing (the fullest domain that could hold the gang), emptiest first
// for spreading. The list lives on pl.dbuf: the caller truncates pl.dbuf
// back to its length before the call once done with it.
func (pl *placer) domainOrder(ds []*domain, needWhole int) []*domain {
	start := len(pl.dbuf)
	for _, d := range ds {
		if d.wholeFree >= needWhole {
			pl.dbuf = append(pl.dbuf, d)
		}
	}
	out := pl.dbuf[start:len(pl.dbuf):len(pl.dbuf)]
	slices.SortStableFunc(out, func(a, b *domain) int {
		if pl.spread {
			return cmp.Compare(b.wholeFree, a.wholeFree)
		}
		return cmp.Compare(a.wholeFree, b.wholeFree)
	})
	return out
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
		req, c := pl.job.groups[g].req, int(pl.sizes[g])
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
	grp := &pl.job.groups[g]
	for range k {
		p := v1alpha1.Placement{Group: grp.name, Index: pl.next[g], Node: n.node.Name}
		pl.next[g]++
		req := grp.req
		if w := wholeGPUs(req); w > 0 {
			for s := 0; s < len(n.gpus) && len(p.GPUs) < w; s++ {
				if n.gpus[s].used == 0 {
					p.GPUs = append(p.GPUs, n.gpus[s].index)
				}
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
			p.GPUs = []int32{n.gpus[best].index}
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
	bestK := 0
	for _, n := range nodes {
		if !pl.usable(n) {
			continue
		}
		k := n.fitsReplicas(req, c)
		if k == 0 || (all && k < c) {
			continue
		}
		switch {
		case best == nil:
		case pl.spread:
			if k <= bestK {
				continue
			}
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
