package gateway

import (
	"net/http"
	"strings"
	"sync"
	"testing"
)

func TestScaleFromZeroHoldsRequestsUntilAReplicaIsReady(t *testing.T) {
	demand := make(chan string, 100)
	h := newHarness(t, func(c *Config) {
		c.OnDemand = func(ns, name string) { demand <- ns + "/" + name }
	})
	s := tinyService("team-a", "")
	s.MaxQueue = 3
	h.gw.SetService(s)
	a := newBackend(t, "a")
	type result struct {
		code int
		body string
	}
	results := make(chan result, 3)
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, body := readAll(t, h.post(teamAToken, "/v1/chat/completions", chatBody("tiny-chat", "hi", false)))
			results <- result{code, body}
		}()
	}
	if got := <-demand; got != "team-a/tiny" {
		t.Fatalf("OnDemand for %q", got)
	}
	waitFor(t, func() bool { st, _ := h.gw.Stats("team-a", "tiny"); return st.Queued == 3 })
	// The queue is full: a fourth request is refused at once with 503.
	resp := h.post(teamAToken, "/v1/chat/completions", chatBody("tiny-chat", "hi", false))
	code, body := readAll(t, resp)
	if code != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("over the queue bound: %d %s", code, body)
	}
	if msg, _ := openAIError(t, body); !strings.Contains(msg, "3 requests already wait") {
		t.Errorf("message %q", msg)
	}
	// A replica becomes ready: every held request is answered.
	if err := h.gw.SetEndpoints("team-a", "tiny", []Endpoint{a.endpoint()}); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(results)
	for r := range results {
		if r.code != 200 {
			t.Errorf("held request: %d %s", r.code, r.body)
		}
	}
	if st, _ := h.gw.Stats("team-a", "tiny"); st.Queued != 0 || st.InFlight != 0 {
		t.Errorf("after: %+v", st)
	}
}

func TestHeldRequestsOfARemovedServiceGet404(t *testing.T) {
	h := newHarness(t, nil)
	h.gw.SetService(tinyService("team-a", ""))
	done := make(chan int)
	go func() {
		code, _ := readAll(t, h.post(teamAToken, "/v1/chat/completions", chatBody("tiny-chat", "hi", false)))
		done <- code
	}()
	waitFor(t, func() bool { st, _ := h.gw.Stats("team-a", "tiny"); return st.Queued == 1 })
	h.gw.RemoveService("team-a", "tiny")
	if code := <-done; code != 404 {
		t.Errorf("held request of a deleted service: %d, want 404", code)
	}
}

func TestRequestsWaitUntilTheGatewayKnowsItsServices(t *testing.T) {
	ready := make(chan struct{})
	h := newHarness(t, func(c *Config) { c.Ready = ready })
	done := make(chan int)
	go func() {
		code, _ := readAll(t, h.post(teamAToken, "/v1/chat/completions", chatBody("tiny-chat", "hi", false)))
		done <- code
	}()
	// Restarted: the controller has not told the gateway about tiny yet.
	h.serve(tinyService("team-a", ""), newBackend(t, "a"))
	close(ready)
	if code := <-done; code != 200 {
		t.Errorf("a request during start-up got %d, want 200 once the services are known", code)
	}
}
