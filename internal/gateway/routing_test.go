package gateway

import (
	"fmt"
	"testing"
)

func cands(loads ...int) []candidate {
	out := make([]candidate, len(loads))
	for i, l := range loads {
		out[i] = candidate{name: fmt.Sprintf("r%d", i), inFlight: l}
	}
	return out
}

func TestRoundRobinCycles(t *testing.T) {
	c := cands(5, 0, 0)
	var got []int
	for n := uint64(0); n < 6; n++ {
		got = append(got, pickRoundRobin(c, n))
	}
	if fmt.Sprint(got) != "[0 1 2 0 1 2]" {
		t.Errorf("got %v", got)
	}
}

func TestLeastRequestPicksTheIdlestAndRotatesTies(t *testing.T) {
	if got := pickLeastRequest(cands(3, 1, 2), 0); got != 1 {
		t.Errorf("got r%d, want r1 (fewest in flight)", got)
	}
	seen := map[int]bool{}
	for s := uint64(0); s < 3; s++ {
		seen[pickLeastRequest(cands(0, 0, 0), s)] = true
	}
	if len(seen) != 3 {
		t.Errorf("ties always went to %v; want them spread", seen)
	}
}

func TestPrefixAffinityIsStickyAndSpreadsPrefixes(t *testing.T) {
	names := []string{"r0", "r1", "r2", "r3"}
	r := newRing(names)
	idle := cands(0, 0, 0, 0)
	hits := map[int]int{}
	for g := 0; g < 200; g++ {
		key := prefixKey(fmt.Sprintf("system: you are assistant number %d. %0300d", g, 0))
		first := pickPrefixAffinity(r, idle, key)
		for i := 0; i < 5; i++ {
			if again := pickPrefixAffinity(r, idle, key); again != first {
				t.Fatalf("prefix %d moved from r%d to r%d with no load", g, first, again)
			}
		}
		hits[first]++
	}
	for i := range names {
		// 200 prefixes over 4 replicas: each should get a fair share.
		if hits[i] < 25 {
			t.Errorf("replica r%d got %d of 200 prefixes: the ring is unbalanced (%v)", i, hits[i], hits)
		}
	}
}

func TestPrefixAffinityBoundsLoad(t *testing.T) {
	r := newRing([]string{"r0", "r1", "r2", "r3"})
	key := "a shared system prompt"
	home := pickPrefixAffinity(r, cands(0, 0, 0, 0), key)
	// Send 40 requests of one prefix, counting each in flight: the home
	// replica takes its bounded share and the rest spill over.
	c := cands(0, 0, 0, 0)
	for i := 0; i < 40; i++ {
		j := pickPrefixAffinity(r, c, key)
		c[j].inFlight++
		total := 0
		for _, x := range c {
			total += x.inFlight
		}
		bound := max(int(loadFactor*float64(total)/4+0.999999), minBound)
		if c[j].inFlight > bound {
			t.Fatalf("after %d requests r%d carries %d, above the bound %d", total, j, c[j].inFlight, bound)
		}
	}
	if c[home].inFlight < 10 {
		t.Errorf("home replica r%d carries %d of 40: affinity lost (%v)", home, c[home].inFlight, c)
	}
	// Removing an unrelated replica keeps the prefix home (consistent hashing).
	var rest []string
	for i := 0; i < 4; i++ {
		if i != (home+1)%4 {
			rest = append(rest, fmt.Sprintf("r%d", i))
		}
	}
	r2 := newRing(rest)
	var c2 []candidate
	for _, n := range rest {
		c2 = append(c2, candidate{name: n})
	}
	if got := c2[pickPrefixAffinity(r2, c2, key)].name; got != fmt.Sprintf("r%d", home) {
		t.Errorf("after removing another replica the prefix moved to %s from r%d", got, home)
	}
}

func TestPromptTextReadsMessagesPromptAndInput(t *testing.T) {
	cases := map[string]string{
		`{"model":"m","messages":[{"role":"system","content":"be brief"},{"role":"user","content":[{"type":"text","text":"hi"}]}]}`: "system:be brief\nuser:hi\n",
		`{"model":"m","prompt":"once upon"}`:   "once upon",
		`{"model":"m","prompt":["first","x"]}`: "first",
		`{"model":"m","input":"embed me"}`:     "embed me",
		`{"model":"m","prompt":[1,2,3]}`:       "[1,2,3]",
	}
	for body, want := range cases {
		if got := promptText([]byte(body)); got != want {
			t.Errorf("%s: got %q, want %q", body, got, want)
		}
	}
}

func TestReadUsageFindsTheTopLevelObject(t *testing.T) {
	cases := map[string][2]int64{
		`{"choices":[{"message":{"content":"the \"usage\": field"}}],"usage":{"prompt_tokens":7,"completion_tokens":5}}`: {7, 5},
		`{"usage": {"prompt_tokens": 3, "completion_tokens": 0, "total_tokens": 3}, "data": []}`:                         {3, 0},
		`{"choices":[{"message":{"content":"no usage here"}}]}`:                                                          {0, 0},
		`{"usage":null}`: {0, 0},
	}
	for body, want := range cases {
		p, c := readUsage([]byte(body))
		if p != want[0] || c != want[1] {
			t.Errorf("%s: got %d, %d; want %v", body, p, c, want)
		}
	}
}
