package gateway

import (
	"fmt"
	"net/http"
	"testing"
)

func TestSplitterKeepsEachRevisionWithinOneRequestOfItsShare(t *testing.T) {
	for _, pct := range []int{0, 1, 10, 25, 33, 50, 90, 99, 100} {
		var s splitter
		got := map[string]int{}
		for n := 1; n <= 1000; n++ {
			got[s.pick([]revisionWeight{{"stable", 100 - pct}, {"canary", pct}})]++
			// Smooth WRR: after n requests the canary has had n*pct/100
			// of them, give or take one.
			want := float64(n*pct) / 100
			if d := float64(got["canary"]) - want; d > 1 || d < -1 {
				t.Fatalf("%d%%: after %d requests the canary had %d, want %.1f±1", pct, n, got["canary"], want)
			}
		}
	}
}

func TestSplitterAllZeroWeightsAndSingleRevision(t *testing.T) {
	var s splitter
	for i := 0; i < 3; i++ {
		if got := s.pick([]revisionWeight{{"b", 0}, {"a", 0}}); got != "a" {
			t.Fatalf("all weights 0: got %q, want the first revision by name", got)
		}
		if got := s.pick([]revisionWeight{{"canary", 0}}); got != "canary" {
			t.Fatalf("single 0%% revision: got %q; it must still take requests when it is all there is", got)
		}
	}
}

func TestGatewaySplitsByRevisionWeightThenAppliesThePolicy(t *testing.T) {
	h := newHarness(t, nil)
	s0, s1, c0 := newBackend(t, "s0"), newBackend(t, "s1"), newBackend(t, "c0")
	svc := Service{Namespace: "team-a", Name: "chat", Models: []string{"m"}, Routing: RoundRobin}
	h.gw.SetService(svc)
	eps := []Endpoint{s0.endpoint(), s1.endpoint(), c0.endpoint()}
	eps[0].Revision, eps[0].Weight = "aaaa", 80
	eps[1].Revision, eps[1].Weight = "aaaa", 80
	eps[2].Revision, eps[2].Weight = "bbbb", 20
	if err := h.gw.SetEndpoints("team-a", "chat", eps); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if code, body := readAll(t, h.post(adminToken, "/v1/chat/completions", chatBody("m", fmt.Sprint(i), false))); code != http.StatusOK {
			t.Fatalf("request %d: %d %s", i, code, body)
		}
	}
	if c0.count() != 20 || s0.count()+s1.count() != 80 {
		t.Errorf("canary got %d, stable %d+%d of 100; want 20 and 80", c0.count(), s0.count(), s1.count())
	}
	// Round-robin still spreads the stable revision's share over its replicas.
	if d := s0.count() - s1.count(); d > 1 || d < -1 {
		t.Errorf("stable replicas got %d and %d: round-robin within the revision is uneven", s0.count(), s1.count())
	}
	// Promotion: the canary gets 100%, the old revision drains.
	eps[0].Draining, eps[1].Draining = true, true
	eps[2].Weight = 100
	if err := h.gw.SetEndpoints("team-a", "chat", eps); err != nil {
		t.Fatal(err)
	}
	before := c0.count()
	for i := 0; i < 10; i++ {
		if code, _ := readAll(t, h.post(adminToken, "/v1/chat/completions", chatBody("m", "x", false))); code != http.StatusOK {
			t.Fatalf("after promotion: %d", code)
		}
	}
	if c0.count()-before != 10 {
		t.Errorf("after promotion the new revision got %d of 10", c0.count()-before)
	}
}
