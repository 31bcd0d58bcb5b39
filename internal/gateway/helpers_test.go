package gateway

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"skiff.dev/skiff/internal/auth"
)

const (
	adminToken = "skf_admin"
	teamAToken = "skf_team_a"
	teamBToken = "skf_team_b"
)

// testAuth knows three keys: the admin and one editor each in team-a and
// team-b.
type testAuth struct{}

func (testAuth) Authenticate(tok string) (auth.Identity, bool) {
	switch tok {
	case adminToken:
		return auth.Identity{Name: auth.AdminName, Admin: true}, true
	case teamAToken:
		return auth.Identity{Name: "alice", Namespace: "team-a", Role: "editor", TokenID: "tk-a"}, true
	case teamBToken:
		return auth.Identity{Name: "bob", Namespace: "team-b", Role: "viewer", TokenID: "tk-b"}, true
	}
	return auth.Identity{}, false
}

// fakeClock is a settable clock for limits.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }
func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// backend is a small OpenAI-style replica: it answers with its name and
// fixed usage; streams send the given number of chunks, each released by
// a value on step when step is set.
type backend struct {
	name   string
	srv    *httptest.Server
	chunks int
	step   chan struct{}
	// gone receives once a request's context ends (client cancellation).
	gone chan struct{}
	// dieAfter, when >0, makes a stream break after that many chunks.
	dieAfter int

	mu       sync.Mutex
	requests []map[string]any
	auth     []string
}

func newBackend(t *testing.T, name string) *backend {
	b := &backend{name: name, chunks: 3, gone: make(chan struct{}, 16)}
	b.srv = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *backend) serve(w http.ResponseWriter, r *http.Request) {
	var req map[string]any
	_ = json.NewDecoder(r.Body).Decode(&req)
	b.mu.Lock()
	b.requests = append(b.requests, req)
	b.auth = append(b.auth, r.Header.Get("Authorization"))
	b.mu.Unlock()
	model, _ := req["model"].(string)
	switch {
	case r.URL.Path == "/v1/embeddings": // a chat-only server: Go's plain-text 404
		http.NotFound(w, r)
		return
	case model == "gzip-error": // a gzip-compressed HTML error page, as a proxy in front might send
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Content-Encoding", "gzip")
		w.WriteHeader(http.StatusBadGateway)
		zw := gzip.NewWriter(w)
		fmt.Fprint(zw, "<html>bad gateway</html>")
		zw.Close()
		return
	case r.URL.Path == "/v1/completions": // refuses every request, in OpenAI's format
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":{"message":"prompt is too long","type":"invalid_request_error","param":"prompt","code":null}}`)
		return
	}
	if stream, _ := req["stream"].(bool); !stream {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"x","object":"chat.completion","model":%q,"choices":[{"index":0,"message":{"role":"assistant","content":%q},"finish_reason":"stop"}],"usage":{"prompt_tokens":7,"completion_tokens":5,"total_tokens":12}}`, model, b.name)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	fl := w.(http.Flusher)
	w.WriteHeader(http.StatusOK)
	fl.Flush()
	for i := 0; i < b.chunks; i++ {
		if b.step != nil {
			select {
			case <-b.step:
			case <-r.Context().Done():
				b.gone <- struct{}{}
				return
			}
		}
		if b.dieAfter > 0 && i == b.dieAfter {
			// Break the connection without finishing the chunked body.
			hj, _ := w.(http.Hijacker)
			conn, _, _ := hj.Hijack()
			conn.Close()
			return
		}
		fmt.Fprintf(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"%s-%d\"}}]}\n\n", b.name, i)
		fl.Flush()
	}
	if so, _ := req["stream_options"].(map[string]any); so != nil && so["include_usage"] == true {
		fmt.Fprint(w, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3,\"total_tokens\":10}}\n\n")
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
}

func (b *backend) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.requests)
}

func (b *backend) endpoint() Endpoint { return Endpoint{Name: b.name, URL: b.srv.URL} }

// harness is a gateway behind an httptest server.
type harness struct {
	t   *testing.T
	gw  *Gateway
	srv *httptest.Server
	clk *fakeClock
}

func newHarness(t *testing.T, mod func(*Config)) *harness {
	clk := newFakeClock()
	cfg := Config{Auth: testAuth{}, Now: clk.Now}
	if mod != nil {
		mod(&cfg)
	}
	gw := New(cfg)
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	return &harness{t: t, gw: gw, srv: srv, clk: clk}
}

func (h *harness) serve(s Service, bs ...*backend) {
	h.t.Helper()
	h.gw.SetService(s)
	var eps []Endpoint
	for _, b := range bs {
		eps = append(eps, b.endpoint())
	}
	if err := h.gw.SetEndpoints(s.Namespace, s.Name, eps); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) post(token, path, body string) *http.Response {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.srv.URL+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp
}

func chatBody(model, content string, stream bool) string {
	b, _ := json.Marshal(map[string]any{"model": model, "stream": stream,
		"messages": []map[string]string{{"role": "user", "content": content}}})
	return string(b)
}

// readAll returns status and body and closes the response.
func readAll(t *testing.T, resp *http.Response) (int, string) {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// openAIError decodes an OpenAI-format error body.
func openAIError(t *testing.T, body string) (msg, typ string) {
	t.Helper()
	var e struct {
		Error struct {
			Message string `json:"message"`
			Type    string `json:"type"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error.Message == "" {
		t.Fatalf("not an OpenAI error body: %q (%v)", body, err)
	}
	return e.Error.Message, e.Error.Type
}

// sseEvents reads data payloads from a stream until it ends.
func sseEvents(t *testing.T, r io.Reader) []string {
	t.Helper()
	var out []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if d, ok := bytes.CutPrefix(sc.Bytes(), []byte("data: ")); ok {
			out = append(out, string(d))
		}
	}
	return out
}
