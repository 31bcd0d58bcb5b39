package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Options configure a run.
type Options struct {
	// BaseURL is the API root, e.g. http://127.0.0.1:7401/v1.
	BaseURL, APIKey, Model string
	Requests               []Request
	// Concurrency is the number of clients sending one request after
	// another; with Rate it caps requests in flight (0: no cap).
	Concurrency int
	// Rate, when positive, sends requests as a Poisson process of this
	// many per second.
	Rate float64
	Seed uint64
	// NoStream asks for whole answers; TTFT is then the whole latency.
	NoStream bool
	SLO      SLO
	// Timeout bounds each request (default 5 minutes).
	Timeout time.Duration
	Client  *http.Client
}

// Run sends the workload and summarizes it.
func Run(ctx context.Context, o Options) (Report, []Result, error) {
	if len(o.Requests) == 0 {
		return Report{}, nil, errors.New("the workload has no requests")
	}
	if o.Rate <= 0 && o.Concurrency < 1 {
		return Report{}, nil, errors.New("give a concurrency of at least 1 or a positive request rate")
	}
	if o.Model == "" || o.BaseURL == "" {
		return Report{}, nil, errors.New("the endpoint URL and the model are required")
	}
	if o.Client == nil {
		o.Client = &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 1024, DisableCompression: true}}
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Minute
	}
	results := make([]Result, len(o.Requests))
	start := time.Now()
	var wg sync.WaitGroup
	if o.Rate > 0 {
		rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x5bd1e995))
		var sem chan struct{}
		if o.Concurrency > 0 {
			sem = make(chan struct{}, o.Concurrency)
		}
		next := start
		for i := range o.Requests {
			next = next.Add(time.Duration(rng.ExpFloat64() / o.Rate * float64(time.Second)))
			select {
			case <-time.After(time.Until(next)):
			case <-ctx.Done():
				return Report{}, nil, ctx.Err()
			}
			if sem != nil {
				sem <- struct{}{}
			}
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				results[i] = o.send(ctx, o.Requests[i], start)
				if sem != nil {
					<-sem
				}
			}(i)
		}
	} else {
		work := make(chan int)
		for c := 0; c < o.Concurrency; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range work {
					results[i] = o.send(ctx, o.Requests[i], start)
				}
			}()
		}
	feed:
		for i := range o.Requests {
			select {
			case work <- i:
			case <-ctx.Done():
				break feed
			}
		}
		close(work)
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return Report{}, nil, err
	}
	return Summarize(results, time.Since(start), o.SLO), results, nil
}

type chunk struct {
	Choices []struct {
		Delta struct {
			Content string `json:"content"`
		} `json:"delta"`
		Message struct {
			Content string `json:"content"`
		} `json:"message"`
		Text string `json:"text"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
	Error *struct {
		Message string `json:"message"`
	} `json:"error"`
}

func (o *Options) body(r Request) []byte {
	var msgs []map[string]string
	if r.System != "" {
		msgs = append(msgs, map[string]string{"role": "system", "content": r.System})
	}
	msgs = append(msgs, map[string]string{"role": "user", "content": r.Prompt})
	req := map[string]any{"model": o.Model, "messages": msgs, "max_tokens": r.MaxTokens}
	if !o.NoStream {
		req["stream"] = true
		req["stream_options"] = map[string]bool{"include_usage": true}
	}
	b, _ := json.Marshal(req)
	return b
}

func (o *Options) send(ctx context.Context, r Request, runStart time.Time) Result {
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	t0 := time.Now()
	res := Result{Start: t0.Sub(runStart)}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(o.BaseURL, "/")+"/chat/completions", bytes.NewReader(o.body(r)))
	if err != nil {
		res.Err = err.Error()
		return res
	}
	req.Header.Set("Content-Type", "application/json")
	if o.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+o.APIKey)
	}
	resp, err := o.Client.Do(req)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		var c chunk
		msg := strings.TrimSpace(string(b))
		if json.Unmarshal(b, &c) == nil && c.Error != nil {
			msg = c.Error.Message
		}
		res.Err = fmt.Sprintf("HTTP %d: %s", resp.StatusCode, msg)
		return res
	}
	if o.NoStream {
		var c chunk
		if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
			res.Err = "decoding the answer: " + err.Error()
			return res
		}
		res.E2E = time.Since(t0)
		res.TTFT = res.E2E
		if c.Usage != nil {
			res.PromptTokens, res.CompletionTokens = c.Usage.PromptTokens, c.Usage.CompletionTokens
		}
		return res
	}
	var last time.Time
	contentChunks := 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 8<<20)
	done := false
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data:")
		if !ok {
			continue
		}
		data = strings.TrimSpace(data)
		if data == "[DONE]" {
			done = true
			break
		}
		var c chunk
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			continue
		}
		if c.Error != nil {
			res.Err = "stream error: " + c.Error.Message
			return res
		}
		if c.Usage != nil {
			res.PromptTokens, res.CompletionTokens = c.Usage.PromptTokens, c.Usage.CompletionTokens
		}
		if len(c.Choices) > 0 && c.Choices[0].Delta.Content+c.Choices[0].Text != "" {
			now := time.Now()
			if contentChunks == 0 {
				res.TTFT = now.Sub(t0)
			} else {
				res.ITL = append(res.ITL, now.Sub(last))
			}
			last = now
			contentChunks++
		}
	}
	if err := sc.Err(); err != nil {
		res.Err = "reading the stream: " + err.Error()
		return res
	}
	if !done {
		res.Err = "the stream ended without [DONE]"
		return res
	}
	res.E2E = time.Since(t0)
	if res.CompletionTokens == 0 {
		res.CompletionTokens = contentChunks
	}
	return res
}
