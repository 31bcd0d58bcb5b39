package store_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/store"
	"skiff.dev/skiff/internal/store/storetest"
)

func openSQLite(t *testing.T, path string) store.Store {
	t.Helper()
	s, err := store.OpenSQLiteWithOptions(path, storetest.FixedClock, store.Options{WatchHistory: 64})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openSQLite(t, filepath.Join(t.TempDir(), "skiff.db"))
	})
}

func TestSQLiteDurable(t *testing.T) {
	storetest.RunDurable(t, openSQLite)
}

func TestSQLiteWatchAfterReopenIsExpired(t *testing.T) {
	path := filepath.Join(t.TempDir(), "skiff.db")
	s, err := store.OpenSQLite(path, storetest.FixedClock)
	if err != nil {
		t.Fatal(err)
	}
	j := &v1alpha1.Job{}
	j.Namespace, j.Name = "a", "b"
	if err := s.Create(t.Context(), j); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openSQLite(t, path)
	// The history of the previous process is gone: replaying from before
	// the reopen must tell the client to relist, not silently skip.
	w, err := s.Watch(t.Context(), mustKind(t, "Job"), store.ListOptions{ResourceVersion: "0"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	select {
	case ev := <-w.ResultChan():
		if ev.Type != "ERROR" {
			t.Fatalf("got %s, want ERROR 410", ev.Type)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no event")
	}
}

func mustKind(t *testing.T, name string) v1alpha1.Kind {
	k, ok := v1alpha1.LookupKind(name)
	if !ok {
		t.Fatalf("no kind %s", name)
	}
	return k
}

const crashEnv = "SKIFF_STORE_CRASH_CHILD_DB"

// TestSQLiteSurvivesSIGKILL runs writers in a child process, kills it with
// SIGKILL mid-stream and checks that every write the child saw acknowledged
// is in the file, and that revisions continue after the last acknowledged
// one. This is the "nothing acknowledged is lost" rule, tested for real.
func TestSQLiteSurvivesSIGKILL(t *testing.T) {
	if path := os.Getenv(crashEnv); path != "" {
		crashChild(path)
		return
	}
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	path := filepath.Join(t.TempDir(), "skiff.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestSQLiteSurvivesSIGKILL$")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[string]int64{}
	var maxRev int64
	sc := bufio.NewScanner(out)
	killed := false
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[0] != "ACK" {
			continue
		}
		rev, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		acked[f[1]] = rev
		maxRev = max(maxRev, rev)
		if len(acked) == 300 && !killed {
			killed = true
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
		}
	}
	cmd.Wait() //nolint:errcheck // killed on purpose
	if !killed {
		t.Fatalf("child exited after %d acknowledged writes", len(acked))
	}

	s := openSQLite(t, path)
	if s.Revision() < maxRev {
		t.Errorf("reopened at revision %d, below the acknowledged %d", s.Revision(), maxRev)
	}
	for name, rev := range acked {
		j := &v1alpha1.Job{}
		if err := s.Get(t.Context(), "crash", name, j); err != nil {
			t.Fatalf("acknowledged %s (revision %d) lost: %v", name, rev, err)
		}
	}
	j := &v1alpha1.Job{}
	j.Namespace, j.Name = "crash", "after"
	if err := s.Create(t.Context(), j); err != nil {
		t.Fatal(err)
	}
	if rv, _ := strconv.ParseInt(j.ResourceVersion, 10, 64); rv <= maxRev {
		t.Errorf("revision %d after restart does not follow acknowledged %d", rv, maxRev)
	}
	t.Logf("%d acknowledged writes survived SIGKILL; revision %d", len(acked), s.Revision())
}

// crashChild writes until it is killed, printing each acknowledged write.
func crashChild(path string) {
	s, err := store.OpenSQLite(path, time.Now)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := 0; ; i++ {
				j := &v1alpha1.Job{}
				j.Namespace, j.Name = "crash", fmt.Sprintf("w%d-%d", g, i)
				if err := s.Create(context.Background(), j); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Printf("ACK %s %s\n", j.Name, j.ResourceVersion)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}
