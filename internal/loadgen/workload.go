package loadgen

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Request is one chat request of a workload.
type Request struct {
	// System, when set, is sent as a system message before Prompt.
	System    string
	Prompt    string
	MaxTokens int
	// Group tags requests that share a prefix (shared-prefix workload).
	Group int
}

// SharedPrefix is inference-perf's shared-prefix workload: Groups system
// prompts of SystemPromptLen words, each followed by PromptsPerGroup
// different questions of QuestionLen words. Requests of all groups are
// interleaved (shuffled with Seed), as independent users would send them.
type SharedPrefix struct {
	Groups, PromptsPerGroup      int
	SystemPromptLen, QuestionLen int
	MaxTokens                    int
	Seed                         uint64
}

// vocabulary is what synthetic prompts are made of: common short words,
// so that a word is close to one token for most tokenizers.
var vocabulary = strings.Fields(`the a of to and in is it you that he was for on are as with his they at be
this have from or one had by word but not what all were we when your can said there use an each which she do
how their if will up other about out many then them these so some her would make like him into time has look
two more write go see number no way could people my than first water been call who oil its now find long down
day did get come made may part boat sea wind sail harbor tide rope oar mast keel hull quay gull net dawn light`)

func words(rng *rand.Rand, n int) string {
	out := make([]string, n)
	for i := range out {
		out[i] = vocabulary[rng.IntN(len(vocabulary))]
	}
	return strings.Join(out, " ")
}

// Requests generates the workload.
func (s SharedPrefix) Requests() ([]Request, error) {
	if s.Groups < 1 || s.PromptsPerGroup < 1 {
		return nil, fmt.Errorf("shared-prefix workload: groups (%d) and prompts per group (%d) must be at least 1", s.Groups, s.PromptsPerGroup)
	}
	if s.SystemPromptLen < 0 || s.QuestionLen < 1 || s.MaxTokens < 1 {
		return nil, fmt.Errorf("shared-prefix workload: system prompt length (%d) must be 0 or more, question length (%d) and max tokens (%d) at least 1",
			s.SystemPromptLen, s.QuestionLen, s.MaxTokens)
	}
	rng := rand.New(rand.NewPCG(s.Seed, s.Seed+1))
	var out []Request
	for g := 0; g < s.Groups; g++ {
		// A distinct opening keeps two groups' prefixes apart from the
		// first word, as distinct system prompts are.
		system := fmt.Sprintf("You are assistant %d. %s", g, words(rng, s.SystemPromptLen))
		for p := 0; p < s.PromptsPerGroup; p++ {
			out = append(out, Request{System: system, Prompt: words(rng, s.QuestionLen) + "?", MaxTokens: s.MaxTokens, Group: g})
		}
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out, nil
}

// Uniform is n independent prompts of PromptLen words.
type Uniform struct {
	N, PromptLen, MaxTokens int
	Seed                    uint64
}

// Requests generates the workload.
func (u Uniform) Requests() ([]Request, error) {
	if u.N < 1 || u.PromptLen < 1 || u.MaxTokens < 1 {
		return nil, fmt.Errorf("uniform workload: requests (%d), prompt length (%d) and max tokens (%d) must be at least 1", u.N, u.PromptLen, u.MaxTokens)
	}
	rng := rand.New(rand.NewPCG(u.Seed, u.Seed+1))
	out := make([]Request, u.N)
	for i := range out {
		out[i] = Request{Prompt: words(rng, u.PromptLen), MaxTokens: u.MaxTokens, Group: i}
	}
	return out, nil
}
