package e2e

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"syscall"
	"testing"
	"time"
)

// otlpReceiver collects the bodies of OTLP/HTTP trace exports.
type otlpReceiver struct {
	mu     sync.Mutex
	bodies [][]byte
	paths  []string
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	o.mu.Lock()
	o.bodies = append(o.bodies, body)
	o.paths = append(o.paths, r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Type"))
	o.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
}

func (o *otlpReceiver) all() ([]byte, []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return bytes.Join(o.bodies, nil), append([]string(nil), o.paths...)
}

func TestTracesAreExportedOverOTLPWhenConfigured(t *testing.T) {
	t.Parallel()
	recv := &otlpReceiver{}
	collector := httptest.NewServer(recv)
	defer collector.Close()

	s := startServer(t, t.TempDir(), t.TempDir(), "--otlp-endpoint", collector.URL)
	s.mustSkiff(jobYAML("default", "traced", ""), "apply", "-f", "-")
	s.waitPhase("default", "traced", "Succeeded", 60*time.Second)
	s.stop(syscall.SIGTERM) // flushes the batch

	body, paths := recv.all()
	if len(paths) == 0 {
		t.Fatalf("no OTLP export arrived\nserver log:\n%s", s.out.String())
	}
	for _, p := range paths {
		if p != "POST /v1/traces application/x-protobuf" {
			t.Errorf("export request %q", p)
		}
	}
	// Span names and attribute values are plain strings in the protobuf.
	for _, want := range []string{"scheduler.cycle", "job", "job.queued", "job.run", "skiff.job.name", "traced",
		"POST /apis/skiff.dev/v1alpha1/namespaces/{namespace}/jobs", "service.name", "skiff"} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("exported spans lack %q", want)
		}
	}
}
