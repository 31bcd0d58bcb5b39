package gateway

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestLimiterRequestsPerMinute(t *testing.T) {
	l := newLimiter()
	now := time.Unix(1000, 0)
	checks := []limitCheck{{key: "k", what: "key k", limit: Limit{RequestsPerMinute: 3}}}
	for i := 0; i < 3; i++ {
		if wait, msg := l.admit(checks, now); msg != "" {
			t.Fatalf("request %d refused: %s (%s)", i, msg, wait)
		}
	}
	wait, msg := l.admit(checks, now)
	if msg == "" || !strings.Contains(msg, "3 requests per minute") {
		t.Fatalf("4th request: %q", msg)
	}
	if wait != 20*time.Second { // one request refills in 60s/3
		t.Errorf("wait %s, want 20s", wait)
	}
	if _, msg := l.admit(checks, now.Add(20*time.Second)); msg != "" {
		t.Errorf("after the refill: %s", msg)
	}
}

func TestLimiterTokensAreChargedAfterwardsAndAllOrNothing(t *testing.T) {
	l := newLimiter()
	now := time.Unix(1000, 0)
	key := limitCheck{key: "k", what: "key k", limit: Limit{TokensPerMinute: 600}}
	ns := limitCheck{key: "ns", what: "namespace n", limit: Limit{RequestsPerMinute: 10}}
	checks := []limitCheck{key, ns}
	if _, msg := l.admit(checks, now); msg != "" {
		t.Fatal(msg)
	}
	l.charge(checks, 900, now) // one long answer overdraws the bucket by 300
	wait, msg := l.admit(checks, now)
	if !strings.Contains(msg, "600 tokens per minute") {
		t.Fatalf("after overdraw: %q", msg)
	}
	if wait != 30*time.Second+100*time.Millisecond { // 301 tokens at 10/s
		t.Errorf("wait %s", wait)
	}
	// The refused request took nothing from the namespace's request bucket.
	l.mu.Lock()
	level := l.buckets["ns/req"].level
	l.mu.Unlock()
	if level != 9 {
		t.Errorf("namespace bucket at %v, want 9", level)
	}
	if _, msg := l.admit(checks, now.Add(31*time.Second)); msg != "" {
		t.Errorf("after the refill: %s", msg)
	}
}

func TestGatewayAnswers429WithRetryAfter(t *testing.T) {
	h := newHarness(t, nil)
	s := tinyService("team-a", "")
	s.KeyLimit = Limit{TokensPerMinute: 20}        // each answer uses 12
	s.NamespaceLimit = Limit{RequestsPerMinute: 5} // across the namespace's keys
	h.serve(s, newBackend(t, "a"))
	post := func(tok string) *http.Response {
		return h.post(tok, "/v1/chat/completions", chatBody("tiny-chat", "hi", false))
	}
	for i := 0; i < 2; i++ { // 24 tokens: the bucket is overdrawn after the second
		if code, body := readAll(t, post(teamAToken)); code != 200 {
			t.Fatal(code, body)
		}
	}
	resp := post(teamAToken)
	code, body := readAll(t, resp)
	if code != 429 {
		t.Fatalf("third request: %d %s", code, body)
	}
	if msg, typ := openAIError(t, body); typ != typeRateLimit || !strings.Contains(msg, "20 tokens per minute") {
		t.Errorf("429 body %s", body)
	}
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || secs < 1 || secs > 60 {
		t.Errorf("Retry-After %q", resp.Header.Get("Retry-After"))
	}
	// Another key has its own token bucket: team-a's overdraft does not
	// block it.
	if code, body := readAll(t, post(adminToken)); code != 200 {
		t.Errorf("admin after team-a hit its limit: %d %s", code, body)
	}
	h.clk.Add(time.Minute)
	if code, body := readAll(t, post(teamAToken)); code != 200 {
		t.Errorf("a minute later: %d %s", code, body)
	}
	// Requests per minute for the namespace: 5 in a minute, the 6th waits.
	h.clk.Add(time.Minute)
	s.KeyLimit = Limit{}
	h.gw.SetService(s)
	n := 0
	for ; n < 10; n++ {
		if code, _ := readAll(t, post(teamAToken)); code == 429 {
			break
		}
	}
	if n != 5 {
		t.Errorf("namespace limit 5/min let %d requests through", n)
	}
}
