package loadgen

import (
	"math"
	"sort"
	"time"
)

// Result is what one request observed.
type Result struct {
	// Start is the time since the run began when the request was sent.
	Start time.Duration
	// TTFT is the time to the first content chunk (the whole answer when
	// not streaming); E2E to the end of the answer.
	TTFT, E2E time.Duration
	// ITL are the gaps between consecutive content chunks.
	ITL                            []time.Duration
	PromptTokens, CompletionTokens int
	Err                            string
}

// Distribution summarizes one latency, in milliseconds.
type Distribution struct {
	Mean float64 `json:"mean_ms"`
	P50  float64 `json:"p50_ms"`
	P99  float64 `json:"p99_ms"`
}

// SLO is a goodput target; zero fields are not checked.
type SLO struct {
	TTFT, TPOT, E2E time.Duration
}

// Report is the benchmark's answer, in vLLM's terms.
type Report struct {
	Completed int     `json:"completed"`
	Failed    int     `json:"failed"`
	Seconds   float64 `json:"duration_s"`
	// Errors holds up to five distinct error messages.
	Errors                 []string     `json:"errors,omitempty"`
	RequestThroughput      float64      `json:"request_throughput"`
	OutputTokenThroughput  float64      `json:"output_token_throughput"`
	TotalTokenThroughput   float64      `json:"total_token_throughput"`
	PromptTokens           int          `json:"total_input_tokens"`
	CompletionTokens       int          `json:"total_output_tokens"`
	TTFT                   Distribution `json:"ttft"`
	TPOT                   Distribution `json:"tpot"`
	ITL                    Distribution `json:"itl"`
	E2E                    Distribution `json:"e2e_latency"`
	Goodput                float64      `json:"goodput"`
	GoodputRequestFraction float64      `json:"goodput_fraction"`
}

// Summarize computes the report of results over a run of length d.
func Summarize(results []Result, d time.Duration, slo SLO) Report {
	r := Report{Seconds: d.Seconds()}
	var ttft, tpot, itl, e2e []float64
	good := 0
	seen := map[string]bool{}
	for _, res := range results {
		if res.Err != "" {
			r.Failed++
			if !seen[res.Err] && len(r.Errors) < 5 {
				seen[res.Err] = true
				r.Errors = append(r.Errors, res.Err)
			}
			continue
		}
		r.Completed++
		r.PromptTokens += res.PromptTokens
		r.CompletionTokens += res.CompletionTokens
		ttft = append(ttft, ms(res.TTFT))
		e2e = append(e2e, ms(res.E2E))
		var perToken time.Duration
		if res.CompletionTokens > 1 {
			perToken = (res.E2E - res.TTFT) / time.Duration(res.CompletionTokens-1)
			tpot = append(tpot, ms(perToken))
		}
		for _, g := range res.ITL {
			itl = append(itl, ms(g))
		}
		if (slo.TTFT == 0 || res.TTFT <= slo.TTFT) && (slo.TPOT == 0 || perToken <= slo.TPOT) && (slo.E2E == 0 || res.E2E <= slo.E2E) {
			good++
		}
	}
	if d > 0 {
		s := d.Seconds()
		r.RequestThroughput = float64(r.Completed) / s
		r.OutputTokenThroughput = float64(r.CompletionTokens) / s
		r.TotalTokenThroughput = float64(r.PromptTokens+r.CompletionTokens) / s
		r.Goodput = float64(good) / s
	}
	if n := len(results); n > 0 {
		r.GoodputRequestFraction = float64(good) / float64(n)
	}
	r.TTFT, r.TPOT, r.ITL, r.E2E = distribution(ttft), distribution(tpot), distribution(itl), distribution(e2e)
	return r
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func distribution(v []float64) Distribution {
	if len(v) == 0 {
		return Distribution{}
	}
	sort.Float64s(v)
	sum := 0.0
	for _, x := range v {
		sum += x
	}
	return Distribution{Mean: round(sum / float64(len(v))), P50: round(percentile(v, 50)), P99: round(percentile(v, 99))}
}

// percentile interpolates linearly between closest ranks (numpy's default).
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 1 {
		return sorted[0]
	}
	pos := p / 100 * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(sorted)-1)
	return sorted[lo] + (sorted[hi]-sorted[lo])*(pos-float64(lo))
}

func round(x float64) float64 { return math.Round(x*1000) / 1000 }
