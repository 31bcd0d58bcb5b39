package main

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// server answers the OpenAI API for one model.
type server struct {
	model *Model
	name  string
	seq   atomic.Uint64
	mux   *http.ServeMux
}

func newServer(m *Model, name string) *server {
	s := &server{model: m, name: name, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /v1/models", s.models)
	s.mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	s.mux.HandleFunc("POST /v1/chat/completions", s.chat)
	s.mux.HandleFunc("POST /v1/completions", s.complete)
	return s
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

type request struct {
	Model       string   `json:"model"`
	Messages    []msg    `json:"messages"`
	Prompt      string   `json:"prompt"`
	MaxTokens   *int     `json:"max_tokens"`
	MaxCompl    *int     `json:"max_completion_tokens"`
	Temperature *float64 `json:"temperature"`
	Seed        *uint64  `json:"seed"`
	Stream      bool     `json:"stream"`
	StreamOpts  *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

type msg struct {
	Role    string `json:"role"`
	Content any    `json:"content"`
}

type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

func writeErr(w http.ResponseWriter, code int, msg, param string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	e := map[string]any{"message": msg, "type": "invalid_request_error", "param": nil, "code": nil}
	if param != "" {
		e["param"] = param
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"error": e})
}

func (s *server) models(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": []map[string]any{
		{"id": s.name, "object": "model", "created": 0, "owned_by": "tinylm"}}})
}

// parse reads a request and checks the model name; it answers errors itself.
func (s *server) parse(w http.ResponseWriter, r *http.Request) (*request, bool) {
	var req request
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		writeErr(w, http.StatusBadRequest, "invalid JSON body: "+err.Error(), "")
		return nil, false
	}
	if req.Model != s.name {
		writeErr(w, http.StatusNotFound, fmt.Sprintf("model %q is not served here: use %q", req.Model, s.name), "model")
		return nil, false
	}
	return &req, true
}

func (req *request) limits() (maxChars int, temp float64, seed uint64) {
	maxChars = 120
	if req.MaxCompl != nil {
		maxChars = *req.MaxCompl
	} else if req.MaxTokens != nil {
		maxChars = *req.MaxTokens
	}
	maxChars = max(1, min(maxChars, 4096))
	temp = 0.7
	if req.Temperature != nil {
		temp = math.Max(0, *req.Temperature)
	}
	if req.Seed != nil {
		seed = *req.Seed
	} else {
		seed = uint64(time.Now().UnixNano())
	}
	return
}

func contentText(c any) string {
	switch v := c.(type) {
	case string:
		return v
	case []any:
		var b strings.Builder
		for _, p := range v {
			if m, ok := p.(map[string]any); ok {
				if t, ok := m["text"].(string); ok {
					b.WriteString(t)
				}
			}
		}
		return b.String()
	}
	return ""
}

func (s *server) chat(w http.ResponseWriter, r *http.Request) {
	req, ok := s.parse(w, r)
	if !ok {
		return
	}
	if len(req.Messages) == 0 {
		writeErr(w, http.StatusBadRequest, "messages: give at least one message", "messages")
		return
	}
	// The model continues the last user message; the whole conversation
	// counts as prompt tokens (one token per character).
	prompt, all := "", 0
	for _, m := range req.Messages {
		t := contentText(m.Content)
		all += len([]rune(t))
		if m.Role == "user" {
			prompt = t
		}
	}
	s.generate(w, r, req, prompt, all, true)
}

func (s *server) complete(w http.ResponseWriter, r *http.Request) {
	req, ok := s.parse(w, r)
	if !ok {
		return
	}
	s.generate(w, r, req, req.Prompt, len([]rune(req.Prompt)), false)
}

func (s *server) generate(w http.ResponseWriter, r *http.Request, req *request, prompt string, promptTokens int, chat bool) {
	maxChars, temp, seed := req.limits()
	id := fmt.Sprintf("tinylm-%d", s.seq.Add(1))
	created := time.Now().Unix()
	object := "text_completion"
	if chat {
		object = "chat.completion"
	}
	if !req.Stream {
		var out strings.Builder
		n := 0
		finish := s.model.Generate(prompt, maxChars, temp, seed, func(c string) bool { out.WriteString(c); n++; return true })
		choice := map[string]any{"index": 0, "finish_reason": finish}
		if chat {
			choice["message"] = map[string]any{"role": "assistant", "content": out.String()}
		} else {
			choice["text"] = out.String()
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"id": id, "object": object, "created": created, "model": s.name,
			"choices": []any{choice}, "usage": usage{promptTokens, n, promptTokens + n}})
		return
	}
	object += ".chunk"
	if !chat {
		object = "text_completion"
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	fl, _ := w.(http.Flusher)
	send := func(v any) bool {
		b, _ := json.Marshal(v)
		if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
			return false
		}
		if fl != nil {
			fl.Flush()
		}
		return r.Context().Err() == nil
	}
	chunk := func(delta map[string]any, text string, finish any) map[string]any {
		c := map[string]any{"index": 0, "finish_reason": finish}
		if chat {
			c["delta"] = delta
		} else {
			c["text"] = text
		}
		return map[string]any{"id": id, "object": object, "created": created, "model": s.name, "choices": []any{c}}
	}
	if chat && !send(chunk(map[string]any{"role": "assistant", "content": ""}, "", nil)) {
		return
	}
	n := 0
	finish := s.model.Generate(prompt, maxChars, temp, seed, func(c string) bool {
		n++
		return send(chunk(map[string]any{"content": c}, c, nil))
	})
	if r.Context().Err() != nil {
		return // the client left; stop generating
	}
	send(chunk(map[string]any{}, "", finish))
	if req.StreamOpts != nil && req.StreamOpts.IncludeUsage {
		send(map[string]any{"id": id, "object": object, "created": created, "model": s.name, "choices": []any{},
			"usage": usage{promptTokens, n, promptTokens + n}})
	}
	_, _ = fmt.Fprint(w, "data: [DONE]\n\n")
	if fl != nil {
		fl.Flush()
	}
}
