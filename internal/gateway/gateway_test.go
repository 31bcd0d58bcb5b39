package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func tinyService(ns string, routing string) Service {
	return Service{Namespace: ns, Name: "tiny", Models: []string{"tiny-chat"}, Routing: routing}
}

func TestRoutesByModelAndHidesTheKey(t *testing.T) {
	h := newHarness(t, nil)
	a, b := newBackend(t, "a"), newBackend(t, "b")
	h.serve(Service{Namespace: "team-a", Name: "one", Models: []string{"m1"}}, a)
	h.serve(Service{Namespace: "team-a", Name: "two", Models: []string{"m2", "m2-alias"}}, b)
	for model, want := range map[string]string{"m1": "a", "m2": "b", "m2-alias": "b"} {
		code, body := readAll(t, h.post(teamAToken, "/v1/chat/completions", chatBody(model, "hi", false)))
		if code != 200 || !strings.Contains(body, `"content":"`+want+`"`) {
			t.Errorf("model %s: got %d %s, want an answer from %s", model, code, body, want)
		}
	}
	for _, be := range []*backend{a, b} {
		for _, got := range be.auth {
			if got != "" {
				t.Errorf("replica %s saw Authorization %q: the Skiff token must not leave the gateway", be.name, got)
			}
		}
	}
}

func TestErrorsAreOpenAIShaped(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxBodyBytes = 1024 })
	a := newBackend(t, "a")
	h.serve(tinyService("team-a", ""), a)
	cases := []struct {
		name, token, body string
		code              int
		typ, contains     string
	}{
		{"unknown model", teamAToken, chatBody("nope", "hi", false), 404, typeNotFound, "`nope` does not exist"},
		{"malformed JSON", teamAToken, `{"model": "tiny-chat", `, 400, typeInvalidRequest, "could not parse the JSON"},
		{"not an object", teamAToken, `[1,2]`, 400, typeInvalidRequest, "could not parse the JSON"},
		{"wrong type", teamAToken, `{"model": "tiny-chat", "stream": "yes"}`, 400, typeInvalidRequest, "stream: must be bool"},
		{"no model", teamAToken, `{"messages": []}`, 400, typeInvalidRequest, "model parameter"},
		{"oversized", teamAToken, chatBody("tiny-chat", strings.Repeat("x", 2000), false), 413, typeInvalidRequest, "limit of 1024 bytes"},
		{"no key", "", chatBody("tiny-chat", "hi", false), 401, typeAuthentication, "didn't provide an API key"},
		{"wrong key", "skf_wrong", chatBody("tiny-chat", "hi", false), 401, typeAuthentication, "Incorrect API key"},
		{"other namespace", teamBToken, chatBody("tiny-chat", "hi", false), 403, typePermission, `served in namespace "team-a"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := readAll(t, h.post(c.token, "/v1/chat/completions", c.body))
			if code != c.code {
				t.Fatalf("status %d, want %d: %s", code, c.code, body)
			}
			msg, typ := openAIError(t, body)
			if typ != c.typ || !strings.Contains(msg, c.contains) {
				t.Errorf("error %q (%s), want type %s containing %q", msg, typ, c.typ, c.contains)
			}
		})
	}
	if a.count() != 0 {
		t.Errorf("bad requests reached the replica %d times", a.count())
	}
	// The gateway keeps serving everyone else.
	if code, body := readAll(t, h.post(teamAToken, "/v1/chat/completions", chatBody("tiny-chat", "hi", false))); code != 200 {
		t.Fatalf("after bad requests: %d %s", code, body)
	}
	if code, _ := readAll(t, h.post(adminToken, "/v1/chat/completions", chatBody("tiny-chat", "hi", false))); code != 200 {
		t.Fatalf("the admin key must reach every namespace, got %d", code)
	}
}

func TestModelsListsWhatTheKeyReaches(t *testing.T) {
	h := newHarness(t, nil)
	h.serve(tinyService("team-a", ""), newBackend(t, "a"))
	h.serve(tinyService("team-b", ""), newBackend(t, "b"))
	h.serve(Service{Namespace: "team-b", Name: "emb", Models: []string{"embed"}}, newBackend(t, "c"))
	list := func(token string) []string {
		req, _ := http.NewRequest(http.MethodGet, h.srv.URL+"/v1/models", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			Data []modelEntry `json:"data"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, m := range out.Data {
			ids = append(ids, m.ID)
		}
		return ids
	}
	if diff := cmp.Diff([]string{"tiny-chat"}, list(teamAToken)); diff != "" {
		t.Errorf("team-a (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"embed", "team-a/tiny-chat", "team-b/tiny-chat"}, list(adminToken)); diff != "" {
		t.Errorf("admin (-want +got):\n%s", diff)
	}
	// team-b's key reaches its own tiny-chat, not team-a's.
	code, body := readAll(t, h.post(teamBToken, "/v1/chat/completions", chatBody("tiny-chat", "hi", false)))
	if code != 200 || !strings.Contains(body, `"content":"b"`) {
		t.Errorf("team-b: %d %s", code, body)
	}
	// The admin must say which namespace; the qualified name reaches it and
	// the replica sees the bare model name.
	code, body = readAll(t, h.post(adminToken, "/v1/chat/completions", chatBody("tiny-chat", "hi", false)))
	if msg, _ := openAIError(t, body); code != 400 || !strings.Contains(msg, "team-a/tiny-chat") {
		t.Errorf("ambiguous admin request: %d %s", code, body)
	}
	code, body = readAll(t, h.post(adminToken, "/v1/chat/completions", chatBody("team-a/tiny-chat", "hi", false)))
	if code != 200 || !strings.Contains(body, `"model":"tiny-chat"`) || !strings.Contains(body, `"content":"a"`) {
		t.Errorf("qualified admin request: %d %s", code, body)
	}
}

// TestOneNamespacesServicesOfAModelServeTheAdminToo: two services of one
// namespace claiming a model (written around admission, which refuses the
// second) answer every caller through the first, the admin included, who
// is asked to choose only between namespaces.
func TestOneNamespacesServicesOfAModelServeTheAdminToo(t *testing.T) {
	h := newHarness(t, nil)
	h.serve(Service{Namespace: "team-a", Name: "one", Models: []string{"m"}}, newBackend(t, "a"))
	h.serve(Service{Namespace: "team-a", Name: "two", Models: []string{"m"}}, newBackend(t, "b"))
	for _, tok := range []string{adminToken, teamAToken} {
		code, body := readAll(t, h.post(tok, "/v1/chat/completions", chatBody("m", "hi", false)))
		if code != 200 || !strings.Contains(body, `"content":"a"`) {
			t.Errorf("token %s: %d %s, want service one's answer", tok, code, body)
		}
	}
	h.serve(Service{Namespace: "team-b", Name: "three", Models: []string{"m"}}, newBackend(t, "c"))
	code, body := readAll(t, h.post(adminToken, "/v1/chat/completions", chatBody("m", "hi", false)))
	if msg, _ := openAIError(t, body); code != 400 || !strings.Contains(msg, "name one of team-a/m, team-b/m") {
		t.Errorf("admin, two namespaces: %d %s, want 400 naming each namespace once", code, body)
	}
}

// TestReplicaErrorsReachClientsInOpenAIShape: a model server's plain-text
// error page becomes an OpenAI error of the same status; its own JSON
// errors pass through unchanged.
func TestReplicaErrorsReachClientsInOpenAIShape(t *testing.T) {
	h := newHarness(t, nil)
	h.serve(Service{Namespace: "team-a", Name: "chat", Models: []string{"m", "gzip-error"}}, newBackend(t, "a"))
	resp := h.post(teamAToken, "/v1/embeddings", `{"model":"m","input":"hi"}`)
	code, body := readAll(t, resp)
	msg, typ := openAIError(t, body)
	if code != http.StatusNotFound || typ != "not_found_error" || !strings.Contains(msg, "the model server answered 404: 404 page not found") ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("plain-text 404: %d %s %q (type %s), want a 404 OpenAI error quoting the server", code, resp.Header.Get("Content-Type"), msg, typ)
	}
	code, body = readAll(t, h.post(teamAToken, "/v1/completions", `{"model":"m","prompt":"hi"}`))
	if msg, _ := openAIError(t, body); code != http.StatusBadRequest || msg != "prompt is too long" {
		t.Errorf("JSON error: %d %s, want the server's own 400 passed through", code, body)
	}
	// An encoded error page passes through intact (Go's client asks for
	// gzip and decodes it).
	code, body = readAll(t, h.post(teamAToken, "/v1/chat/completions", chatBody("gzip-error", "hi", false)))
	if code != http.StatusBadGateway || body != "<html>bad gateway</html>" {
		t.Errorf("gzip-encoded error page: %d %q, want it passed through and readable", code, body)
	}
}

func TestStreamIsForwardedChunkByChunk(t *testing.T) {
	h := newHarness(t, nil)
	a := newBackend(t, "a")
	a.step = make(chan struct{})
	h.serve(tinyService("team-a", ""), a)
	resp := h.post(teamAToken, "/v1/chat/completions", chatBody("tiny-chat", "hi", true))
	defer resp.Body.Close()
	if got := resp.Header.Get("Content-Type"); !strings.HasPrefix(got, "text/event-stream") {
		t.Fatalf("Content-Type %q", got)
	}
	br := bufio.NewReader(resp.Body)
	for i := 0; i < 3; i++ {
		// The replica writes chunk i only now; reading it back before the
		// next is released proves nothing waits for more data.
		a.step <- struct{}{}
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(line, "a-"+string(rune('0'+i))) {
			t.Fatalf("chunk %d: %q", i, line)
		}
		if _, err := br.ReadString('\n'); err != nil { // blank line
			t.Fatal(err)
		}
	}
	rest := sseEvents(t, br)
	// The client did not ask for usage: the gateway asked for it and keeps
	// the usage chunk to itself.
	if diff := cmp.Diff([]string{"[DONE]"}, rest); diff != "" {
		t.Errorf("after the content (-want +got):\n%s", diff)
	}
	a.mu.Lock()
	so, _ := a.requests[0]["stream_options"].(map[string]any)
	a.mu.Unlock()
	if so["include_usage"] != true {
		t.Errorf("replica got stream_options %v, want include_usage true", so)
	}
	want := []UsageRecord{{Namespace: "team-a", Model: "tiny-chat", Key: "tk-a", Requests: 1, PromptTokens: 7, CompletionTokens: 3, TotalTokens: 10}}
	if diff := cmp.Diff(want, h.gw.Usage("team-a")); diff != "" {
		t.Errorf("usage (-want +got):\n%s", diff)
	}
}

func TestStreamUsageReachesClientsThatAsk(t *testing.T) {
	h := newHarness(t, nil)
	h.serve(tinyService("team-a", ""), newBackend(t, "a"))
	body := `{"model":"tiny-chat","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`
	resp := h.post(teamAToken, "/v1/chat/completions", body)
	defer resp.Body.Close()
	events := sseEvents(t, resp.Body)
	if len(events) != 5 || !strings.Contains(events[3], `"usage"`) {
		t.Fatalf("events %q: want 3 chunks, the usage chunk and [DONE]", events)
	}
}

func TestNonStreamUsageIsRecordedPerKey(t *testing.T) {
	h := newHarness(t, nil)
	h.serve(tinyService("team-a", ""), newBackend(t, "a"))
	for _, tok := range []string{teamAToken, teamAToken, adminToken} {
		if code, body := readAll(t, h.post(tok, "/v1/chat/completions", chatBody("tiny-chat", "hi", false))); code != 200 {
			t.Fatal(code, body)
		}
	}
	want := []UsageRecord{
		{Namespace: "team-a", Model: "tiny-chat", Key: "admin", Requests: 1, PromptTokens: 7, CompletionTokens: 5, TotalTokens: 12},
		{Namespace: "team-a", Model: "tiny-chat", Key: "tk-a", Requests: 2, PromptTokens: 14, CompletionTokens: 10, TotalTokens: 24},
	}
	if diff := cmp.Diff(want, h.gw.Usage("")); diff != "" {
		t.Errorf("usage (-want +got):\n%s", diff)
	}
	// GET /v1/usage shows a tenant its own namespace only.
	req, _ := http.NewRequest(http.MethodGet, h.srv.URL+"/v1/usage", nil)
	req.Header.Set("Authorization", "Bearer "+teamBToken)
	code, body := readAll(t, mustDo(t, req))
	if code != 200 || strings.Contains(body, "team-a") {
		t.Errorf("team-b's usage view: %d %s", code, body)
	}
}

func mustDo(t *testing.T, req *http.Request) *http.Response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestClientCancellationReachesTheReplica(t *testing.T) {
	records := make(chan RequestRecord, 4)
	h := newHarness(t, func(c *Config) { c.Observe = func(r RequestRecord) { records <- r } })
	a := newBackend(t, "a")
	a.step = make(chan struct{})
	h.serve(tinyService("team-a", ""), a)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, h.srv.URL+"/v1/chat/completions", strings.NewReader(chatBody("tiny-chat", "hi", true)))
	req.Header.Set("Authorization", "Bearer "+teamAToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	a.step <- struct{}{}
	if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	cancel()
	resp.Body.Close()
	<-a.gone // the replica's request context ended: it stops generating
	waitFor(t, func() bool { st, _ := h.gw.Stats("team-a", "tiny"); return st.InFlight == 0 })
	// The request log says the client left, not that the stream succeeded.
	if r := <-records; r.Status != 499 {
		t.Errorf("recorded status %d for a stream the client abandoned, want 499", r.Status)
	}
}

// waitFor polls cond; the test's own deadline bounds it.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for !cond() {
		time.Sleep(time.Millisecond)
	}
}

func TestRetriesARequestThatNeverReachedAReplica(t *testing.T) {
	h := newHarness(t, nil)
	a := newBackend(t, "b-live")
	// A port nobody listens on: the dial fails, so the request never
	// reached that replica and may go to another.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	h.gw.SetService(tinyService("team-a", RoundRobin))
	if err := h.gw.SetEndpoints("team-a", "tiny", []Endpoint{{Name: "a-dead", URL: dead}, a.endpoint()}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		code, body := readAll(t, h.post(teamAToken, "/v1/chat/completions", chatBody("tiny-chat", "hi", false)))
		if code != 200 || !strings.Contains(body, "b-live") {
			t.Fatalf("request %d: %d %s", i, code, body)
		}
	}
	st, _ := h.gw.Stats("team-a", "tiny")
	if diff := cmp.Diff(map[string]int{"a-dead": 0, "b-live": 0}, st.Replicas); diff != "" {
		t.Errorf("in flight after the requests (-want +got):\n%s", diff)
	}
	// With no live replica left the client gets a 502 in OpenAI's format.
	_ = h.gw.SetEndpoints("team-a", "tiny", []Endpoint{{Name: "a-dead", URL: dead}})
	h.clk.Add(time.Minute)
	code, body := readAll(t, h.post(teamAToken, "/v1/chat/completions", chatBody("tiny-chat", "hi", false)))
	if msg, typ := openAIError(t, body); code != 502 || typ != typeServer || !strings.Contains(msg, "could be reached") {
		t.Errorf("all replicas down: %d %s", code, body)
	}
}

func TestReplicaDyingMidStreamEndsWithAnErrorEvent(t *testing.T) {
	h := newHarness(t, nil)
	a := newBackend(t, "a")
	a.dieAfter = 2
	h.serve(tinyService("team-a", ""), a)
	resp := h.post(teamAToken, "/v1/chat/completions", chatBody("tiny-chat", "hi", true))
	defer resp.Body.Close()
	events := sseEvents(t, resp.Body)
	if len(events) != 3 || !strings.Contains(events[2], `"error"`) {
		t.Fatalf("events %q: want two chunks and an error event", events)
	}
}

func TestDrainingReplicaGetsNoNewRequests(t *testing.T) {
	h := newHarness(t, nil)
	a, b := newBackend(t, "a"), newBackend(t, "b")
	h.gw.SetService(tinyService("team-a", RoundRobin))
	_ = h.gw.SetEndpoints("team-a", "tiny", []Endpoint{a.endpoint(), {Name: "b", URL: b.srv.URL, Draining: true}})
	for i := 0; i < 4; i++ {
		readAll(t, h.post(teamAToken, "/v1/chat/completions", chatBody("tiny-chat", "hi", false)))
	}
	if a.count() != 4 || b.count() != 0 {
		t.Errorf("a got %d, draining b got %d; want 4 and 0", a.count(), b.count())
	}
}
