package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// openaiNPM is the official npm package the guide's JavaScript users
// have; 6.30.1 is the last release that runs on Node 20.
const openaiNPM = "openai@6.30.1"

// npmClient installs openai@6.30.1 once into the user cache directory and
// returns the directory to run node in; ok is false when node or npm is
// missing.
func npmClient(t *testing.T) (dir string, ok bool) {
	t.Helper()
	for _, bin := range []string{"node", "npm"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Logf("%s is not installed: the npm openai client is not exercised", bin)
			return "", false
		}
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir = filepath.Join(cache, "skiff-test", "npm-"+openaiNPM)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "openai", "package.json")); err != nil {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "npm", "install", "--no-audit", "--no-fund", "--prefix", dir, openaiNPM)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm install %s: %v\n%s", openaiNPM, err, out)
		}
	}
	script, err := os.ReadFile("testdata/openai-client.mjs")
	if err != nil {
		t.Fatal(err)
	}
	// Node resolves "openai" from the script's own directory.
	if err := os.WriteFile(filepath.Join(dir, "openai-client.mjs"), script, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, true
}

// nodeResult is what testdata/openai-client.mjs prints.
type nodeResult struct {
	Models  []string `json:"models"`
	Content string   `json:"content"`
	Usage   struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
	Chunks      int    `json:"chunks"`
	Streamed    string `json:"streamed"`
	StreamUsage *struct {
		CompletionTokens int `json:"completion_tokens"`
	} `json:"streamUsage"`
	NotFound struct {
		Status int    `json:"status"`
		Type   string `json:"type"`
	} `json:"notFound"`
}

// runNodeClient runs the npm SDK against the gateway.
func runNodeClient(t *testing.T, dir, baseURL, key, model string) nodeResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join(dir, "openai-client.mjs"))
	cmd.Env = append(os.Environ(), "BASE_URL="+baseURL, "API_KEY="+key, "MODEL="+model)
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("node openai client: %v\n%s\n%s", err, out, stderr)
	}
	var res nodeResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("node output %q: %v", out, err)
	}
	return res
}
