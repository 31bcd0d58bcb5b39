package gateway

import "sort"

// splitter divides requests among a service's revisions by weight with
// smooth weighted round-robin (nginx's upstream algorithm): over any run
// of requests each revision's share stays within one request of its
// weight's share, and the choice depends only on the request count, so
// tests and users see the percent they asked for rather than a random
// approximation of it.
type splitter struct {
	current map[string]int
}

// revisionWeight is one revision that has a replica able to take the
// request now, and its traffic weight (a percent).
type revisionWeight struct {
	revision string
	weight   int
}

// pick returns the revision for the next request. Revisions with weight 0
// are chosen only when every weight is 0 (then the first one), so a canary
// at 0% gets no traffic while the rolled-out revision can take it, and a
// request is never refused because only a 0% revision is up.
func (s *splitter) pick(revs []revisionWeight) string {
	if len(revs) == 1 {
		return revs[0].revision
	}
	sort.Slice(revs, func(i, j int) bool { return revs[i].revision < revs[j].revision })
	if s.current == nil {
		s.current = map[string]int{}
	}
	total := 0
	for _, r := range revs {
		total += max(r.weight, 0)
	}
	if total == 0 {
		return revs[0].revision
	}
	best := -1
	for i, r := range revs {
		s.current[r.revision] += max(r.weight, 0)
		if best < 0 || s.current[r.revision] > s.current[revs[best].revision] {
			best = i
		}
	}
	s.current[revs[best].revision] -= total
	// Forget revisions that are gone, so a later one starts fresh.
	if len(s.current) > len(revs) {
		live := make(map[string]bool, len(revs))
		for _, r := range revs {
			live[r.revision] = true
		}
		for k := range s.current {
			if !live[k] {
				delete(s.current, k)
			}
		}
	}
	return revs[best].revision
}

// choose keeps the replicas of one revision, picked by weight among the
// revisions present in eps; with a single revision it keeps them all.
func (s *splitter) choose(eps []*endpoint, cands []candidate) ([]*endpoint, []candidate) {
	// The common case, one revision, costs one pass and no allocation.
	single := true
	for _, ep := range eps[1:] {
		if ep.Revision != eps[0].Revision {
			single = false
			break
		}
	}
	if single {
		return eps, cands
	}
	var revs []revisionWeight
	seen := map[string]bool{}
	for _, ep := range eps {
		if !seen[ep.Revision] {
			seen[ep.Revision] = true
			revs = append(revs, revisionWeight{revision: ep.Revision, weight: ep.Weight})
		}
	}
	if len(revs) < 2 {
		return eps, cands
	}
	rev := s.pick(revs)
	var outE []*endpoint
	var outC []candidate
	for i, ep := range eps {
		if ep.Revision == rev {
			outE = append(outE, ep)
			outC = append(outC, cands[i])
		}
	}
	return outE, outC
}
