package gateway

import (
	"hash/fnv"
	"sort"
	"strconv"
)

// Routing policies, chosen per service.
const (
	RoundRobin     = "round-robin"
	LeastRequest   = "least-request"
	PrefixAffinity = "prefix-affinity"
)

// candidate is what a policy sees of one ready replica.
type candidate struct {
	name     string
	inFlight int
	// score is least-load's measure (loadScore); other policies ignore it.
	score float64
}

// pickRoundRobin returns the index of the next replica after counter.
func pickRoundRobin(cands []candidate, counter uint64) int {
	return int(counter % uint64(len(cands)))
}

// pickLeastRequest returns the replica with the fewest requests in flight;
// ties go to the first one at or after start, so equal replicas share load.
func pickLeastRequest(cands []candidate, start uint64) int {
	n := len(cands)
	best := -1
	for i := 0; i < n; i++ {
		j := int((start + uint64(i)) % uint64(n))
		if best < 0 || cands[j].inFlight < cands[best].inFlight {
			best = j
		}
	}
	return best
}

// ring is a consistent-hash ring over replica names with virtual nodes.
type ring struct {
	points []ringPoint
}

type ringPoint struct {
	hash uint64
	name string
}

// virtualNodes per replica keeps the ring balanced with few replicas.
const virtualNodes = 128

func newRing(names []string) *ring {
	r := &ring{points: make([]ringPoint, 0, len(names)*virtualNodes)}
	for _, n := range names {
		for v := 0; v < virtualNodes; v++ {
			r.points = append(r.points, ringPoint{hash: hash64(n + "#" + strconv.Itoa(v)), name: n})
		}
	}
	sort.Slice(r.points, func(i, j int) bool {
		if r.points[i].hash != r.points[j].hash {
			return r.points[i].hash < r.points[j].hash
		}
		return r.points[i].name < r.points[j].name
	})
	return r
}

func hash64(s string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	// FNV's low bits mix poorly for short similar strings; finish with a
	// 64-bit avalanche (splitmix64's) so ring points spread evenly.
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// loadFactor bounds a replica's load under prefix affinity at this
// multiple of the mean (consistent hashing with bounded loads).
const loadFactor = 1.25

// minBound is the load below which a replica is never over its bound:
// model servers batch a few concurrent requests at little extra latency,
// and spilling a prefix to a replica without its cache costs a full
// prefill, so at light load affinity wins.
const minBound = 4

// pickPrefixAffinity walks the ring clockwise from the hash of key and
// returns the first replica whose load stays within loadFactor times the
// mean load after taking this request: the same prefix keeps landing on the
// replica that has it cached until that replica is overloaded, and then
// spills to the next one on the ring (always the same next one).
func pickPrefixAffinity(r *ring, cands []candidate, key string) int {
	idx := make(map[string]int, len(cands))
	total := 0
	for i, c := range cands {
		idx[c.name] = i
		total += c.inFlight
	}
	// ceil(loadFactor * (total+1) / n)
	limit := int(loadFactor*float64(total+1)/float64(len(cands)) + 0.999999)
	if limit < minBound {
		limit = minBound
	}
	h := hash64(key)
	start := sort.Search(len(r.points), func(i int) bool { return r.points[i].hash >= h })
	seen := make(map[string]bool, len(cands))
	for i := 0; i < len(r.points) && len(seen) < len(cands); i++ {
		p := r.points[(start+i)%len(r.points)]
		j, ok := idx[p.name]
		if !ok || seen[p.name] {
			continue
		}
		seen[p.name] = true
		if cands[j].inFlight+1 <= limit {
			return j
		}
	}
	// Every replica is at the bound (only possible through rounding):
	// take the least loaded.
	return pickLeastRequest(cands, 0)
}

// prefixLen is how many leading bytes of the prompt choose the replica.
// Long enough to tell system prompts apart, short enough that requests
// sharing a system prompt but not the question hash alike.
const prefixLen = 256

// prefixKey is the routing key of a prompt: its first prefixLen bytes.
func prefixKey(prompt string) string {
	if len(prompt) > prefixLen {
		return prompt[:prefixLen]
	}
	return prompt
}
