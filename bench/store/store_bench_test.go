// Package storebench measures the durable store: how many acknowledged
// (fsynced) creates and status updates per second SQLite sustains with one
// writer and with many concurrent writers sharing group commits, and how
// fast and how lean a 100,000-object ListRaw is.
//
//	go test -run '^$' -bench . -benchtime 3000x ./bench/store/
package storebench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/store"
)

// listObjects is the size of the ListRaw benchmark's data set.
const listObjects = 100_000

var jobKind, _ = v1alpha1.LookupKind("Job")

// clock is fixed: the benchmark measures the store, not time.Now.
func clock() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) }

// job is a realistic small Job (about 600 bytes of JSON).
func job(namespace, name string) *v1alpha1.Job {
	gpu, cpu, mem := resource.MustParse("8"), resource.MustParse("32"), resource.MustParse("256Gi")
	return &v1alpha1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: namespace, Name: name,
			Labels:      map[string]string{"team": namespace, "skiff.dev/sweep": "lr-search"},
			Annotations: map[string]string{"skiff.dev/submitted-by": "alice@example.com"},
		},
		Spec: v1alpha1.JobSpec{
			Queue: "research", Priority: 10,
			ReplicaGroups: []v1alpha1.ReplicaGroup{{
				Name: "worker", Replicas: 4,
				Template: v1alpha1.ReplicaTemplate{
					Command: []string{"torchrun", "--nproc-per-node=8", "train.py"},
					Args:    []string{"--lr=3e-4", "--batch-size=1024", "--epochs=10"},
					Env:     []v1alpha1.EnvVar{{Name: "NCCL_DEBUG", Value: "WARN"}},
					Resources: v1alpha1.Resources{
						GPU: &gpu, CPU: &cpu, Memory: &mem,
					},
				},
			}},
		},
	}
}

func open(b *testing.B, path string) store.Store {
	b.Helper()
	s, err := store.OpenSQLite(path, clock)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// createAll creates n jobs named prefix-i with the given number of
// concurrent writers and returns how long it took.
func createAll(ctx context.Context, s store.Store, prefix string, n, writers int) (time.Duration, error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	start := time.Now()
	for range writers {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				if err := s.Create(ctx, job(fmt.Sprintf("team-%d", i%8), fmt.Sprintf("%s-%07d", prefix, i))); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	return elapsed, <-errs
}

// BenchmarkSQLiteCreate reports durable creates per second: every Create
// returns only after its transaction is fsynced.
func BenchmarkSQLiteCreate(b *testing.B) {
	for _, writers := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			s := open(b, filepath.Join(b.TempDir(), "bench.db"))
			defer s.Close()
			b.ResetTimer()
			elapsed, err := createAll(b.Context(), s, "job", b.N, writers)
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "objects/s")
		})
	}
}

// BenchmarkSQLiteCreateOwned reports durable creates per second, from 64
// concurrent writers, of objects with an owner reference: the events
// controllers record about a job, each of which also gets a row in the
// owner index that cascading deletion reads.
func BenchmarkSQLiteCreateOwned(b *testing.B) {
	s := open(b, filepath.Join(b.TempDir(), "bench.db"))
	defer s.Close()
	ctx := b.Context()
	owner := job("team-0", "owner")
	if err := s.Create(ctx, owner); err != nil {
		b.Fatal(err)
	}
	perSecond := writeConcurrently(b, 64, func(int) func(i int64) error {
		return func(i int64) error {
			return s.Create(ctx, &v1alpha1.Event{
				ObjectMeta: metav1.ObjectMeta{Namespace: "team-0", Name: fmt.Sprintf("owner.%07d", i),
					OwnerReferences: []metav1.OwnerReference{{APIVersion: v1alpha1.APIVersion, Kind: "Job", Name: owner.Name, UID: owner.UID}}},
				InvolvedObject: v1alpha1.ObjectReference{Kind: "Job", Namespace: "team-0", Name: owner.Name, UID: string(owner.UID)},
				Reason:         "Started", Message: "all 4 replicas are running", Type: v1alpha1.EventNormal, Count: 1,
			})
		}
	})
	b.ReportMetric(perSecond, "objects/s")
}

// BenchmarkSQLiteStatusUpdate reports durable status updates per second
// from 64 concurrent writers, each writing the job as its last write left
// it (a controller updating what its informer shows): the store's cost per
// write, beside the fsyncs that group commits share.
func BenchmarkSQLiteStatusUpdate(b *testing.B) {
	benchmarkUpdates(b, 64, func(j *v1alpha1.Job) (*v1alpha1.Job, error) { return j, nil })
}

// BenchmarkSQLiteControllerUpdates reports durable status updates per
// second from 32 writers that, like controllers, work between writes: each
// decodes its job from JSON and encodes it again (a watch event in, a
// request out) before every update. When the writers keep the CPUs busy, how
// many writes a commit carries depends on the writer goroutine letting them
// queue theirs.
func BenchmarkSQLiteControllerUpdates(b *testing.B) {
	benchmarkUpdates(b, 32, func(j *v1alpha1.Job) (*v1alpha1.Job, error) {
		raw, err := json.Marshal(j)
		if err != nil {
			return nil, err
		}
		out := &v1alpha1.Job{}
		return out, json.Unmarshal(raw, out)
	})
}

// benchmarkUpdates reports durable status updates per second made to 2,048
// jobs by the given number of concurrent goroutines, each passing a job
// through work before it changes the job's status.
func benchmarkUpdates(b *testing.B, writers int, work func(*v1alpha1.Job) (*v1alpha1.Job, error)) {
	const jobs = 2048
	if jobs%writers != 0 {
		b.Fatalf("%d writers do not divide %d jobs: two writers would share a job", writers, jobs)
	}
	s := open(b, filepath.Join(b.TempDir(), "bench.db"))
	defer s.Close()
	ctx := b.Context()
	objs := createJobs(b, s, jobs)
	perSecond := writeConcurrently(b, writers, func(w int) func(i int64) error {
		// Writer w owns jobs w, w+writers, ...: no conflicts, as long as
		// writers divides jobs.
		at := w
		return func(i int64) error {
			j, err := work(objs[at])
			if err != nil {
				return err
			}
			j.Status.Phase = []v1alpha1.JobPhase{v1alpha1.JobAdmitted, v1alpha1.JobRunning}[i%2]
			j.Status.Attempt = int32(i)
			if err := s.Update(ctx, j); err != nil {
				return err
			}
			objs[at] = j
			at = (at + writers) % jobs
			return nil
		}
	})
	b.ReportMetric(perSecond, "updates/s")
}

// createJobs stores n jobs and returns them as stored.
func createJobs(b *testing.B, s store.Store, n int) []*v1alpha1.Job {
	b.Helper()
	objs := make([]*v1alpha1.Job, n)
	for i := range objs {
		objs[i] = job(fmt.Sprintf("team-%d", i%8), fmt.Sprintf("job-%05d", i))
		if err := s.Create(b.Context(), objs[i]); err != nil {
			b.Fatal(err)
		}
	}
	return objs
}

// writeConcurrently makes b.N writes from the given number of goroutines,
// writer w calling the function newWriter(w) returned with the write's
// number (1 to b.N), and returns the writes made per second. The timer
// covers the writes only.
func writeConcurrently(b *testing.B, writers int, newWriter func(w int) func(i int64) error) float64 {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	b.ResetTimer()
	start := time.Now()
	for w := range writers {
		write := newWriter(w)
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				if err := write(i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	return float64(b.N) / elapsed.Seconds()
}

var (
	seedOnce sync.Once
	seedDir  string
	seedErr  error
)

// seeded returns the path of a database holding listObjects jobs, built
// once per process because go test calls a benchmark several times.
func seeded(b *testing.B) string {
	seedOnce.Do(func() {
		if seedDir, seedErr = os.MkdirTemp("", "storebench-"); seedErr != nil {
			return
		}
		path := filepath.Join(seedDir, "list.db")
		s, err := store.OpenSQLite(path, clock)
		if err != nil {
			seedErr = err
			return
		}
		defer s.Close()
		var elapsed time.Duration
		elapsed, seedErr = createAll(context.Background(), s, "seed", listObjects, 256)
		b.Logf("seeded %d jobs in %v (%.0f creates/s with 256 writers)", listObjects, elapsed, listObjects/elapsed.Seconds())
	})
	if seedErr != nil {
		b.Fatal(seedErr)
	}
	return filepath.Join(seedDir, "list.db")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if seedDir != "" {
		os.RemoveAll(seedDir)
	}
	os.Exit(code)
}

// BenchmarkSQLiteListRaw100k streams all 100,000 jobs. live-MB is the live
// heap halfway through the listing (after a GC): it stays far below data-MB
// because rows are passed on as they are read, never collected.
func BenchmarkSQLiteListRaw100k(b *testing.B) {
	s := open(b, seeded(b))
	defer s.Close()
	b.ReportAllocs()
	b.ResetTimer()
	var live, data float64
	for b.Loop() {
		n, bytes := 0, 0
		_, err := s.ListRaw(b.Context(), jobKind, store.ListOptions{}, func(raw []byte) error {
			n++
			bytes += len(raw)
			if n == listObjects/2 {
				runtime.GC()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				live = float64(ms.HeapAlloc) / (1 << 20)
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		if n != listObjects {
			b.Fatalf("listed %d objects, want %d", n, listObjects)
		}
		data = float64(bytes) / (1 << 20)
	}
	b.ReportMetric(float64(b.N*listObjects)/b.Elapsed().Seconds(), "objects/s")
	b.ReportMetric(live, "live-MB")
	b.ReportMetric(data, "data-MB")
}
