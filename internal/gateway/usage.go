package gateway

import (
	"sort"
	"sync"
)

// UsageRecord is the traffic of one key on one model.
type UsageRecord struct {
	Namespace string `json:"namespace"`
	Model     string `json:"model"`
	// Key is the Token object the key came from ("admin" for the
	// bootstrap admin token).
	Key              string `json:"key"`
	Requests         int64  `json:"requests"`
	PromptTokens     int64  `json:"prompt_tokens"`
	CompletionTokens int64  `json:"completion_tokens"`
	TotalTokens      int64  `json:"total_tokens"`
}

type usageKey struct{ namespace, model, key string }

// usageBook adds up token usage per key, model and namespace.
type usageBook struct {
	mu sync.Mutex
	m  map[usageKey]*UsageRecord
}

func newUsageBook() *usageBook { return &usageBook{m: map[usageKey]*UsageRecord{}} }

func (b *usageBook) add(namespace, model, key string, prompt, completion int64) {
	k := usageKey{namespace, model, key}
	b.mu.Lock()
	defer b.mu.Unlock()
	r, ok := b.m[k]
	if !ok {
		r = &UsageRecord{Namespace: namespace, Model: model, Key: key}
		b.m[k] = r
	}
	r.Requests++
	r.PromptTokens += prompt
	r.CompletionTokens += completion
	r.TotalTokens += prompt + completion
}

// records returns the records of namespace ("" for all), sorted.
func (b *usageBook) records(namespace string) []UsageRecord {
	b.mu.Lock()
	out := make([]UsageRecord, 0, len(b.m))
	for k, r := range b.m {
		if namespace == "" || k.namespace == namespace {
			out = append(out, *r)
		}
	}
	b.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		a, c := out[i], out[j]
		if a.Namespace != c.Namespace {
			return a.Namespace < c.Namespace
		}
		if a.Model != c.Model {
			return a.Model < c.Model
		}
		return a.Key < c.Key
	})
	return out
}
