package main

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
)

// Model is a character n-gram language model: for every context of up to
// Order-1 characters seen in the training text, how often each next
// character followed it. Generation backs off to shorter contexts when a
// longer one was never seen (stupid backoff).
type Model struct {
	Order int `json:"order"`
	// Counts maps a context to the counts of the characters that followed it.
	Counts map[string]map[string]int `json:"counts"`
	// Chars is the training text's length in characters.
	Chars int `json:"chars"`
}

// Train counts the n-grams of text up to order.
func Train(text string, order int) (*Model, error) {
	if order < 1 || order > 12 {
		return nil, fmt.Errorf("order %d: use 1 to 12", order)
	}
	runes := []rune(normalize(text))
	if len(runes) < order {
		return nil, fmt.Errorf("the training text has %d characters: give at least %d", len(runes), order)
	}
	m := &Model{Order: order, Counts: map[string]map[string]int{}, Chars: len(runes)}
	for i := range runes {
		next := string(runes[i])
		for n := 0; n < order && n <= i; n++ {
			ctx := string(runes[i-n : i])
			c := m.Counts[ctx]
			if c == nil {
				c = map[string]int{}
				m.Counts[ctx] = c
			}
			c[next]++
		}
	}
	return m, nil
}

// normalize folds whitespace runs into single spaces, so line breaks in
// the corpus do not become part of what the model learns to say.
func normalize(s string) string { return strings.Join(strings.Fields(s), " ") }

// Save writes the model as JSON.
func (m *Model) Save(path string) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("writing the model: %w", err)
	}
	return os.Rename(tmp, path)
}

// Load reads a model written by Save.
func Load(path string) (*Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the model: %w (train one first: tinylm train --out %s)", err, path)
	}
	m := &Model{}
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("model %s: %w", path, err)
	}
	if m.Order < 1 || len(m.Counts) == 0 {
		return nil, fmt.Errorf("model %s is empty: train it again", path)
	}
	return m, nil
}

// Next samples the character that follows context. Temperature 0 picks
// the most frequent one.
func (m *Model) Next(context []rune, temperature float64, rng *rand.Rand) string {
	for n := min(m.Order-1, len(context)); n >= 0; n-- {
		counts, ok := m.Counts[string(context[len(context)-n:])]
		if !ok || len(counts) == 0 {
			continue
		}
		return sample(counts, temperature, rng)
	}
	return " "
}

func sample(counts map[string]int, temperature float64, rng *rand.Rand) string {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic for a given seed
	if temperature <= 0 {
		best := keys[0]
		for _, k := range keys {
			if counts[k] > counts[best] {
				best = k
			}
		}
		return best
	}
	weights := make([]float64, len(keys))
	total := 0.0
	for i, k := range keys {
		weights[i] = math.Pow(float64(counts[k]), 1/temperature)
		total += weights[i]
	}
	r := rng.Float64() * total
	for i, w := range weights {
		r -= w
		if r < 0 {
			return keys[i]
		}
	}
	return keys[len(keys)-1]
}

// Generate continues prompt by up to maxChars characters, calling emit
// with each one; it stops early after a sentence ends once at least a
// third of maxChars was written. It returns why it stopped: "stop" or
// "length".
func (m *Model) Generate(prompt string, maxChars int, temperature float64, seed uint64, emit func(string) bool) string {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	ctx := []rune(normalize(prompt))
	if len(ctx) == 0 || ctx[len(ctx)-1] != ' ' {
		ctx = append(ctx, ' ')
	}
	for i := 0; i < maxChars; i++ {
		c := m.Next(ctx, temperature, rng)
		if !emit(c) {
			return "stop"
		}
		ctx = append(ctx, []rune(c)...)
		if len(ctx) > 64 {
			ctx = ctx[len(ctx)-64:]
		}
		if (c == "." || c == "?" || c == "!") && i >= maxChars/3 {
			return "stop"
		}
	}
	return "length"
}

// BitsPerChar is the model's average surprise on text, in bits per
// character, with add-one smoothing over the characters of the longest
// seen context (lower is better; a uniform guess over 60 characters is
// about 5.9).
func (m *Model) BitsPerChar(text string) float64 {
	runes := []rune(normalize(text))
	if len(runes) == 0 {
		return 0
	}
	total := 0.0
	for i := range runes {
		var counts map[string]int
		for n := min(m.Order-1, i); n >= 0; n-- {
			if c, ok := m.Counts[string(runes[i-n:i])]; ok {
				counts = c
				break
			}
		}
		sum := 0
		for _, v := range counts {
			sum += v
		}
		p := float64(counts[string(runes[i])]+1) / float64(sum+len(counts)+1)
		total -= math.Log2(p)
	}
	return total / float64(len(runes))
}
