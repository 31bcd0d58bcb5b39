package local_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"skiff.dev/skiff/internal/runtime"
	"skiff.dev/skiff/internal/runtime/local"
)

// The test binary doubles as the shim and as a workload: the runtime
// re-executes it with one of these markers as its first argument.
const (
	shimMarker     = "skiff-test-shim"
	allocMarker    = "skiff-test-alloc"
	stubbornMarker = "skiff-test-stubborn"
	serverMarker   = "skiff-test-server"
)

func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case shimMarker:
			os.Exit(local.ShimMain(os.Args[2:]))
		case allocMarker:
			os.Exit(alloc(os.Args[2]))
		case stubbornMarker:
			stubborn(os.Args[2])
		case serverMarker:
			server(os.Args[2])
		}
	}
	// Shims are this (race-enabled) binary; the race runtime otherwise
	// sleeps 1s at exit, which would delay every exit the tests observe.
	os.Setenv("GORACE", "atexit_sleep_ms=0")
	os.Exit(m.Run())
}

// alloc touches mib MiB of memory, then exits 0.
func alloc(mib string) int {
	n, err := strconv.Atoi(mib)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var keep [][]byte
	for i := 0; i < n; i++ {
		b := make([]byte, 1<<20)
		for j := 0; j < len(b); j += 4096 {
			b[j] = 1
		}
		keep = append(keep, b)
	}
	fmt.Printf("allocated %d MiB\n", len(keep))
	return 0
}

// stubborn reports SIGTERM but does not exit; it writes "ready" to fifo
// once it is listening. (A shell trap can miss a signal that arrives while
// the shell forks.)
func stubborn(fifo string) {
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	if err := os.WriteFile(fifo, []byte("ready\n"), 0); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	for range term {
		fmt.Println("got TERM")
	}
}

// server stands for a skiff server: it starts one replica in dir, prints
// its pid and waits to be killed.
func server(dir string) {
	rt, err := local.New(local.Options{Dir: dir, ShimCommand: []string{os.Args[0], shimMarker}})
	if err == nil {
		var st runtime.Status
		st, err = rt.Start(context.Background(), replica("survivor", []string{"sleep", "300"}))
		fmt.Println(st.PID)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	select {}
}

// newRuntime returns a runtime over a fresh directory (or dir, if given)
// whose replicas are all killed when the test ends.
func newRuntime(t *testing.T, dir string, mod ...func(*local.Options)) *local.Runtime {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	opts := local.Options{
		Dir:          dir,
		ShimCommand:  []string{os.Args[0], shimMarker},
		Logf:         testLogf(t),
		PollInterval: 20 * time.Millisecond,
	}
	for _, f := range mod {
		f(&opts)
	}
	rt, err := local.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := rt.Shutdown(ctx, 0); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return rt
}

// testLogf logs through t until the test ends; runtime goroutines may log
// later, which testing does not allow.
func testLogf(t *testing.T) func(string, ...any) {
	var mu sync.Mutex
	ended := false
	t.Cleanup(func() {
		mu.Lock()
		ended = true
		mu.Unlock()
	})
	return func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if !ended {
			t.Logf(format, args...)
		}
	}
}

func sh(script string) []string { return []string{"/bin/sh", "-c", script} }

func replica(name string, cmd []string) runtime.Replica {
	return runtime.Replica{Namespace: "team-a", Name: name, Command: cmd}
}

func start(t *testing.T, rt *local.Runtime, r runtime.Replica) runtime.Status {
	t.Helper()
	st, err := rt.Start(context.Background(), r)
	if err != nil {
		t.Fatalf("Start(%s): %v", r.Name, err)
	}
	return st
}

// waitExit reads rt.Exits until the named replica's exit arrives.
func waitExit(t *testing.T, rt *local.Runtime, name string) runtime.Status {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case st := <-rt.Exits():
			if st.Name == name {
				return st
			}
		case <-timeout:
			t.Fatalf("replica %s did not exit within 20s", name)
		}
	}
}

// newFIFO makes a named pipe a replica writes to when it is ready; read it
// with waitFIFO.
func newFIFO(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ready")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// waitFIFO blocks until a replica wrote a line to the fifo and returns it.
func waitFIFO(t *testing.T, fifo string) string {
	t.Helper()
	got := make(chan string, 1)
	go func() {
		data, err := os.ReadFile(fifo) // blocks until a writer opens and closes it
		if err != nil {
			got <- "error: " + err.Error()
			return
		}
		got <- strings.TrimSpace(string(data))
	}()
	select {
	case s := <-got:
		return s
	case <-time.After(20 * time.Second):
		// Unblock the reader so the goroutine ends.
		if f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
		t.Fatalf("replica did not report ready on %s within 20s", fifo)
		return ""
	}
}

// gone waits until pid no longer runs (absent or a zombie).
func gone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if errors.Is(err, os.ErrNotExist) {
			return
		}
		if err == nil {
			f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
			if len(f) > 0 && f[0] == "Z" {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d still runs", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// parentPID reads a process's parent from /proc.
func parentPID(t *testing.T, pid int) int {
	t.Helper()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		t.Fatal(err)
	}
	return ppid
}

func readPIDFile(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func readLog(t *testing.T, rt *local.Runtime, name string) string {
	t.Helper()
	p, err := rt.LogPath("team-a", name)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
