// Package ddp_test checks the data-parallel example: ranks that all-reduce
// over TCP reach exactly the loss of a single process, also when a rank dies
// and the run resumes from its checkpoint.
package ddp_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var finalLoss = regexp.MustCompile(`final loss=(\S+) steps=(\d+)`)

func python(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	return p
}

// freePort returns a port for rank 0 to listen on. The other ranks keep
// connecting to it until rank 0 listens, and each attempt takes a local
// port from the kernel's ephemeral range, which is also where a listen on
// port 0 finds its port: a port found that way can be taken by one of
// those attempts (rank 0 then fails with "address already in use") or
// handed to another run's rank 0 (whose ranks then meet the wrong peers).
// So the port is picked below that range, where neither happens.
func freePort(t *testing.T) string {
	t.Helper()
	if lo := ephemeralLow(); lo > 10001 {
		for range 100 {
			p := 10000 + rand.IntN(lo-10000)
			if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p)); err == nil {
				l.Close()
				return fmt.Sprint(p)
			}
		}
	}
	// No room below the range: any free port, with the race above.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}

// ephemeralLow is the first port of the kernel's ephemeral range (Linux's
// default where it cannot be read).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	if f := strings.Fields(string(b)); len(f) > 0 {
		if lo, err := strconv.Atoi(f[0]); err == nil {
			return lo
		}
	}
	return 32768
}

// run starts world ranks (world 0: one process without rendezvous env) and
// returns their commands and output files.
func start(t *testing.T, ctx context.Context, world int, ckpt string, args ...string) ([]*exec.Cmd, []string) {
	t.Helper()
	py := python(t)
	port := freePort(t)
	n := max(world, 1)
	var cmds []*exec.Cmd
	var outs []string
	for r := 0; r < n; r++ {
		cmd := exec.CommandContext(ctx, py, append([]string{"train.py", "--report", "stdout", "--checkpoint-dir", ckpt}, args...)...)
		cmd.Env = append(os.Environ(), "SKIFF_API=")
		if world > 0 {
			cmd.Env = append(cmd.Env, "WORLD_SIZE="+fmt.Sprint(world), "RANK="+fmt.Sprint(r), "MASTER_ADDR=127.0.0.1", "MASTER_PORT="+port)
		}
		out := filepath.Join(t.TempDir(), "out")
		f, err := os.Create(out)
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = f, f
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		f.Close()
		cmds, outs = append(cmds, cmd), append(outs, out)
	}
	return cmds, outs
}

func loss(t *testing.T, out string) string {
	t.Helper()
	b, _ := os.ReadFile(out)
	m := finalLoss.FindStringSubmatch(string(b))
	if m == nil {
		t.Fatalf("no final loss in:\n%s", b)
	}
	return m[1]
}

func train(t *testing.T, world int, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmds, outs := start(t, ctx, world, t.TempDir(), args...)
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			b, _ := os.ReadFile(outs[i])
			t.Fatalf("rank %d: %v\n%s", i, err, b)
		}
	}
	return loss(t, outs[0])
}

func TestRanksReachTheSingleProcessLoss(t *testing.T) {
	t.Parallel()
	single := train(t, 0, "--steps", "40")
	for _, world := range []int{1, 3} {
		if got := train(t, world, "--steps", "40"); got != single {
			t.Errorf("%d ranks: final loss %s, single process %s", world, got, single)
		}
	}
}

func TestKilledRankResumesFromTheCheckpoint(t *testing.T) {
	t.Parallel()
	want := train(t, 0, "--steps", "60")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ckpt := t.TempDir()
	cmds, outs := start(t, ctx, 2, ckpt, "--steps", "60", "--step-delay", "0.02", "--checkpoint-every", "5")
	// Once a checkpoint exists, rank 1 dies; rank 0 checkpoints the last
	// finished step and exits.
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := os.Stat(filepath.Join(ckpt, "checkpoint.json")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no checkpoint written")
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = cmds[1].Process.Kill()
	for _, c := range cmds {
		_ = c.Wait()
	}
	b, _ := os.ReadFile(outs[0])
	if strings.Contains(string(b), "final loss") {
		t.Skip("the run finished before the rank was killed (a very slow machine)")
	}
	cmds, outs = start(t, ctx, 2, ckpt, "--steps", "60")
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			b, _ := os.ReadFile(outs[i])
			t.Fatalf("resumed rank %d: %v\n%s", i, err, b)
		}
	}
	b, _ = os.ReadFile(outs[0])
	if !regexp.MustCompile(`resumed from step [1-9]`).Match(b) {
		t.Errorf("the second run did not resume:\n%s", b)
	}
	if got := loss(t, outs[0]); got != want {
		t.Errorf("resumed run: final loss %s, uninterrupted single process %s", got, want)
	}
}
