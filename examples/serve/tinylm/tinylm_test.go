package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func trained(t *testing.T) *Model {
	t.Helper()
	m, err := Train(corpus, 7)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestTrainLearnsTheCorpus(t *testing.T) {
	m := trained(t)
	// A uniform guess over the corpus's characters costs log2(|chars|)
	// bits; the model must do far better on text it was trained on.
	if bpc := m.BitsPerChar(corpus); bpc > 2 {
		t.Errorf("%.2f bits/char on the training text", bpc)
	}
	// And worse on text unlike it.
	if a, b := m.BitsPerChar(corpus), m.BitsPerChar("zqxj vvkw pfft grrk"); b <= a {
		t.Errorf("random text %.2f bits/char is not worse than the corpus %.2f", b, a)
	}
	if _, err := Train("ab", 7); err == nil {
		t.Error("training on 2 characters with order 7 succeeded")
	}
}

func TestGenerateIsDeterministicPerSeedAndReadsLikeTheCorpus(t *testing.T) {
	m := trained(t)
	gen := func(seed uint64) string {
		var b strings.Builder
		m.Generate("The harbor", 200, 0.7, seed, func(c string) bool { b.WriteString(c); return true })
		return b.String()
	}
	if a, b := gen(1), gen(1); a != b {
		t.Error("the same seed gave two answers")
	}
	out := gen(2)
	words := strings.Fields(out)
	known := 0
	for _, w := range words {
		if strings.Contains(corpus, strings.Trim(w, ".,:;")) {
			known++
		}
	}
	if len(words) == 0 || known*10 < len(words)*8 {
		t.Errorf("%q: %d of %d words come from the corpus", out, known, len(words))
	}
	var greedy strings.Builder
	m.Generate("The harbor", 40, 0, 0, func(c string) bool { greedy.WriteString(c); return true })
	if greedy.Len() == 0 {
		t.Error("temperature 0 generated nothing")
	}
}

func TestServerSpeaksOpenAIChat(t *testing.T) {
	srv := httptest.NewServer(newServer(trained(t), "tinylm"))
	defer srv.Close()
	post := func(body string) *http.Response {
		resp, err := http.Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := post(`{"model":"tinylm","seed":1,"max_tokens":30,"messages":[{"role":"user","content":"A skiff"}]}`)
	var out struct {
		Choices []struct {
			Message struct{ Content string } `json:"message"`
		} `json:"choices"`
		Usage usage `json:"usage"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(out.Choices) != 1 || out.Choices[0].Message.Content == "" || out.Usage.PromptTokens != 7 ||
		out.Usage.CompletionTokens != len([]rune(out.Choices[0].Message.Content)) {
		t.Errorf("answer %+v", out)
	}

	resp = post(`{"model":"tinylm","stream":true,"max_tokens":5,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"A skiff"}]}`)
	defer resp.Body.Close()
	var data []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			data = append(data, d)
		}
	}
	// role chunk, 5 characters, finish chunk, usage chunk, [DONE]
	if len(data) != 9 || data[8] != "[DONE]" || !strings.Contains(data[7], `"completion_tokens":5`) {
		t.Errorf("stream %q", data)
	}

	resp = post(`{"model":"other","messages":[{"role":"user","content":"x"}]}`)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown model: %d", resp.StatusCode)
	}
}
