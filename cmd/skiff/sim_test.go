package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runSim(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	cmd := simCommand()
	var out, errb bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), errb.String(), err
}

func TestSimCommandJSON(t *testing.T) {
	dir := t.TempDir()
	jobs := filepath.Join(dir, "jobs.csv")
	csv := "id,tenant,submit,duration,gpus\na,x,0,10,2\nb,y,1,5,2\nc,x,2,3,4\nbad,y,zz,1,1\nhuge,y,3,1,64\n"
	if err := os.WriteFile(jobs, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	out, stderr, err := runSim(t, "--format", "skiff", "--trace", jobs, "--cluster", "a100=4", "--policies", "fifo,default",
		"--placements", "best-fit,frag-aware", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "jobs.csv:5:") || !strings.Contains(stderr, "huge") {
		t.Errorf("stderr should report the bad row with its line and the oversized job:\n%s", stderr)
	}
	var rep struct {
		Policies   map[string]struct{ Jobs int } `json:"policies"`
		Placements map[string]map[string]any     `json:"placements"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if rep.Policies["fifo"].Jobs != 3 || rep.Policies["default"].Jobs != 3 {
		t.Errorf("policies = %+v, want 3 jobs finished under each", rep.Policies)
	}
	if _, ok := rep.Placements["frag-aware"]["unallocatableGPUFraction"]; !ok {
		t.Errorf("placements = %v, want frag-aware's unallocatableGPUFraction", rep.Placements)
	}
	if _, _, err := runSim(t, "--format", "skiff", "--trace", jobs, "--cluster", "a100=4", "--strict", "-o", "json"); err == nil || !strings.Contains(err.Error(), "jobs.csv:5:") {
		t.Errorf("--strict: err = %v, want the bad row's position", err)
	}
	if _, _, err := runSim(t, "--format", "nope", "--trace", jobs); err == nil || !strings.Contains(err.Error(), "--format") {
		t.Errorf("bad format: err = %v", err)
	}
}
