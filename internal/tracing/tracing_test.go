package tracing

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/api/v1alpha1"
)

func recorder() (*tracetest.SpanRecorder, *sdktrace.TracerProvider) {
	sr := tracetest.NewSpanRecorder()
	return sr, sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
}

func TestEndpointFlagWinsOverEnvironment(t *testing.T) {
	env := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://env:4318"}
	get := func(k string) string { return env[k] }
	if got := Endpoint("http://flag:4318", get); got != "http://flag:4318" {
		t.Errorf("flag: %q", got)
	}
	if got := Endpoint("", get); got != "http://env:4318" {
		t.Errorf("env: %q", got)
	}
	env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = "http://traces:4318/v1/traces"
	if got := Endpoint("", get); got != "http://traces:4318/v1/traces" {
		t.Errorf("traces env: %q", got)
	}
	if got := Endpoint("", func(string) string { return "" }); got != "" {
		t.Errorf("nothing configured should mean off, got %q", got)
	}
}

func TestSetupWithoutEndpointLeavesTheNoopProvider(t *testing.T) {
	before := otel.GetTracerProvider()
	shutdown, err := Setup(context.Background(), "", "test")
	if err != nil {
		t.Fatal(err)
	}
	if otel.GetTracerProvider() != before {
		t.Error("Setup without an endpoint replaced the global tracer provider")
	}
	_, span := Tracer().Start(context.Background(), "x")
	if span.IsRecording() {
		t.Error("spans record although tracing is off")
	}
	if err := shutdown(context.Background()); err != nil {
		t.Error(err)
	}
}

func TestSetupRejectsABadEndpoint(t *testing.T) {
	for _, ep := range []string{"127.0.0.1:4318", "ftp://x:1", "http://"} {
		if _, err := Setup(context.Background(), ep, "test"); err == nil || !strings.Contains(err.Error(), "--otlp-endpoint") {
			t.Errorf("Setup(%q) error = %v", ep, err)
		}
	}
}

func TestCycleSpan(t *testing.T) {
	sr, tp := recorder()
	ctx, end := StartCycle(context.Background(), tp.Tracer(ScopeName))
	if !trace.SpanFromContext(ctx).IsRecording() {
		t.Fatal("the cycle's context carries no recording span")
	}
	end(errors.New("conflict"))
	spans := sr.Ended()
	if len(spans) != 1 || spans[0].Name() != "scheduler.cycle" || spans[0].Status().Code != codes.Error || len(spans[0].Events()) != 1 {
		t.Fatalf("spans = %+v", spans)
	}
}

func TestRecordJobSpansHaveTheJobsTimes(t *testing.T) {
	sr, tp := recorder()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	job := &v1alpha1.Job{}
	job.Namespace, job.Name, job.Spec.Queue = "team-a", "train", "gpu"
	job.CreationTimestamp = metav1.NewTime(t0)
	job.Status.Phase = v1alpha1.JobFailed
	job.Status.Restarts = 2
	job.Status.Conditions = []metav1.Condition{{Type: v1alpha1.JobConditionAdmitted, Status: metav1.ConditionTrue, LastTransitionTime: metav1.NewTime(t0.Add(3 * time.Second))}}
	start, done := metav1.NewTime(t0.Add(4*time.Second)), metav1.NewTime(t0.Add(60*time.Second))
	job.Status.StartTime, job.Status.CompletionTime = &start, &done

	RecordJob(context.Background(), tp.Tracer(ScopeName), job, t0.Add(61*time.Second))
	byName := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range sr.Ended() {
		byName[s.Name()] = s
	}
	root, queued, run := byName["job"], byName["job.queued"], byName["job.run"]
	if root == nil || queued == nil || run == nil {
		t.Fatalf("spans = %v", byName)
	}
	if !root.StartTime().Equal(t0) || !root.EndTime().Equal(done.Time) || root.Status().Code != codes.Error {
		t.Errorf("job span %v..%v status %v", root.StartTime(), root.EndTime(), root.Status())
	}
	if !queued.EndTime().Equal(t0.Add(3*time.Second)) || !run.StartTime().Equal(start.Time) || !run.EndTime().Equal(done.Time) {
		t.Errorf("queued %v..%v run %v..%v", queued.StartTime(), queued.EndTime(), run.StartTime(), run.EndTime())
	}
	if queued.Parent().SpanID() != root.SpanContext().SpanID() || run.Parent().SpanID() != root.SpanContext().SpanID() {
		t.Error("phases are not children of the job span")
	}
	want := attribute.String("skiff.job.name", "train")
	found := false
	for _, a := range root.Attributes() {
		if a == want {
			found = true
		}
	}
	if !found {
		t.Errorf("job span attributes %v lack %v", root.Attributes(), want)
	}

	// A job still running records nothing.
	sr2, tp2 := recorder()
	job.Status.Phase = v1alpha1.JobRunning
	RecordJob(context.Background(), tp2.Tracer(ScopeName), job, t0)
	if n := len(sr2.Ended()); n != 0 {
		t.Errorf("running job recorded %d spans", n)
	}
}

func TestSetupExportsOverOTLPHTTPWhenConfigured(t *testing.T) {
	got := make(chan string, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- r.Method + " " + r.URL.Path + " " + r.Header.Get("Content-Type") + " " + strconv.Itoa(len(body))
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer srv.Close()
	prev := otel.GetTracerProvider()
	defer otel.SetTracerProvider(prev)

	shutdown, err := Setup(context.Background(), srv.URL, "test")
	if err != nil {
		t.Fatal(err)
	}
	_, span := Tracer().Start(context.Background(), "exported")
	span.End()
	if err := shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case req := <-got:
		if !strings.HasPrefix(req, "POST /v1/traces application/x-protobuf ") || strings.HasSuffix(req, " 0") {
			t.Errorf("collector got %q", req)
		}
	default:
		t.Fatal("nothing was exported")
	}
}
