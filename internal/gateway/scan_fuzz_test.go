package gateway

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var requestSeeds = []string{
	`{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":16}`,
	`{"model":"team-a/m","stream":true,"stream_options":{"include_usage":false}}`,
	`{"Model":"m","STREAM":null,"stream_options":null}`,
	`{"model":"a","model":null,"model":"b","stream":true,"stream":false}`,
	`{"stream_options":{"include_usage":true},"stream_options":{},"model":"m"}`,
	`{"model":"m\u00e9","mod\u0065l":"x"}`,
	`{"model":5}`, `{"stream":"yes"}`, `{"stream_options":[]}`, `[]`, `"m"`, `null`, `{"model":"m"`, `{"model":"m"} x`,
	" {\"model\":\"m\"}\n", `{"model":"\ud800"}`, "{\"model\":\"\xff\"}", `{"ſtream":true,"model":"m"}`,
}

// FuzzScanRequest holds the fast path to encoding/json: whatever it
// accepts, encoding/json accepts and reads the same way.
func FuzzScanRequest(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, ok := scanRequest(body)
		if !ok {
			return
		}
		var want inferenceRequest
		if err := json.Unmarshal(body, &want); err != nil {
			t.Fatalf("scanRequest accepted %q, which encoding/json refuses: %v", body, err)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("%q: scanRequest differs from encoding/json (-want +got):\n%s", body, d)
		}
	})
}

var usageSeeds = []string{
	`{"choices":[{"message":{"content":"the \"usage\": field"}}],"usage":{"prompt_tokens":7,"completion_tokens":5}}`,
	`{"usage": {"prompt_tokens": 3, "completion_tokens": 0, "total_tokens": 3}, "data": []}`,
	`{"usage":null}`, `{"usage":{"prompt_tokens":null,"completion_tokens":2}}`,
	`{"usage":{"Prompt_Tokens":4,"completion_tokens":2,"prompt_tokens":6}}`,
	`{"usage":{"prompt_tokens":1.5}}`, `{"usage":{"prompt_tokens":"3"}}`, `{"usage":{"prompt_tokens":1e2}}`,
	`{"usage":{"prompt_tokens":99999999999999999999}}`, `{"usage":{"prompt_tokens":-0,"completion_tokens":-3}}`,
	`{"usage":{"prompt_tokens":2,"completion_tokens":null,"details":{"usage":{"prompt_tokens":9}}}}`,
	`{"usage":{"prompt_tokens":2}} trailing`, `{"usage":{"prompt_tokens":2,}}`, `"usage":{"prompt_tokens":1}`,
}

// usageByDecoder is what readUsage answered before its fast path: the
// same search, each candidate decoded by encoding/json.
func usageByDecoder(b []byte) (prompt, completion int64) {
	for end := len(b); end > 0; {
		i := bytes.LastIndex(b[:end], []byte(`"usage"`))
		if i < 0 {
			return 0, 0
		}
		end = i
		rest := bytes.TrimLeft(b[i+len(`"usage"`):], " \t\r\n")
		if len(rest) == 0 || rest[0] != ':' {
			continue
		}
		var u struct {
			PromptTokens     *int64 `json:"prompt_tokens"`
			CompletionTokens int64  `json:"completion_tokens"`
		}
		if json.NewDecoder(bytes.NewReader(rest[1:])).Decode(&u) == nil && u.PromptTokens != nil {
			return *u.PromptTokens, u.CompletionTokens
		}
	}
	return 0, 0
}

func FuzzReadUsage(f *testing.F) {
	for _, s := range usageSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		wp, wc := usageByDecoder(b)
		gp, gc := readUsage(b)
		if gp != wp || gc != wc {
			t.Fatalf("%q: readUsage = %d, %d; encoding/json reads %d, %d", b, gp, gc, wp, wc)
		}
	})
}
