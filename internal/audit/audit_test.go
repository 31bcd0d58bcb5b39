package audit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRecordQueryRotate(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, 400, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var all []Event
	for i := 0; i < 8; i++ {
		e := Event{Time: t0.Add(time.Duration(i) * time.Minute), User: []string{"alice", "bob"}[i%2], Verb: "get",
			Kind: "Job", Namespace: "team-a", Name: "j", Allowed: i%3 != 0, Code: 200}
		all = append(all, e)
		if err := l.Record(e); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{FileName, FileName + ".1"} {
		fi, err := os.Stat(filepath.Join(dir, p))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if fi.Size() > 400 {
			t.Errorf("%s is %d bytes, over the 400 limit", p, fi.Size())
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %o, want 600", p, fi.Mode().Perm())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, FileName+".3")); err == nil {
		t.Error("more rotated files than keep=2")
	}
	got, err := l.Query(Query{})
	if err != nil {
		t.Fatal(err)
	}
	// Rotation dropped the oldest lines; what is left is the newest, in order.
	if len(got) == 0 || len(got) > len(all) {
		t.Fatalf("got %d events", len(got))
	}
	if diff := cmp.Diff(all[len(all)-len(got):], got); diff != "" {
		t.Errorf("query (-want +got):\n%s", diff)
	}
	bob, _ := l.Query(Query{User: "bob", Since: t0.Add(5 * time.Minute)})
	for _, e := range bob {
		if e.User != "bob" || e.Time.Before(t0.Add(5*time.Minute)) {
			t.Errorf("filter let through %+v", e)
		}
	}
	if len(bob) != 2 || bob[0].Time != t0.Add(5*time.Minute) || bob[1].Time != t0.Add(7*time.Minute) {
		t.Errorf("bob since 5m: %+v", bob)
	}
	last, _ := l.Query(Query{Limit: 2})
	if len(last) != 2 || last[1] != all[7] {
		t.Errorf("limit 2: %+v", last)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, FileName))
	if !strings.Contains(string(raw), `"allowed":`) {
		t.Errorf("log line lacks allowed: %s", raw)
	}
}
