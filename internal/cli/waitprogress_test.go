package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/api/v1alpha1"
)

// TestWaitProgressShowsPhaseAndReason checks the terminal status line of
// `skiff wait`: the job, its phase and why it waits, redrawn in place,
// bounded in width, and cleared at the end; and that nothing is written
// when stderr is not a terminal.
func TestWaitProgressShowsPhaseAndReason(t *testing.T) {
	var buf bytes.Buffer
	p := newWaitProgress(&buf, true, time.Hour) // redraws only on observe
	job := &v1alpha1.Job{Status: v1alpha1.JobStatus{Phase: v1alpha1.JobPending, Conditions: []metav1.Condition{{
		Type: v1alpha1.JobConditionAdmitted, Status: metav1.ConditionFalse,
		Message: "waiting for 8 gpu in flavor h100: queue team-a uses 12/16; position 3 in queue team-a"}}}}
	p.observe("job/train", job)
	p.observe("job/train", &v1alpha1.Job{Status: v1alpha1.JobStatus{Phase: v1alpha1.JobRunning}})
	p.finish()
	out := buf.String()
	for _, want := range []string{"\r\x1b[K", "waiting on job/train (Pending: waiting for 8 gpu in flavor h100", "waiting on job/train (Running)"} {
		if !strings.Contains(out, want) {
			t.Errorf("progress output lacks %q:\n%q", want, out)
		}
	}
	if !strings.HasSuffix(out, "\r\x1b[K") {
		t.Errorf("progress line not cleared at the end: %q", out)
	}
	for _, line := range strings.Split(out, "\r\x1b[K") {
		if n := len([]rune(line)); n > progressWidth {
			t.Errorf("status line of %d runes exceeds %d: %q", n, progressWidth, line)
		}
	}

	var quiet bytes.Buffer
	q := newWaitProgress(&quiet, false, time.Millisecond)
	q.observe("job/train", job)
	q.finish()
	if quiet.Len() != 0 {
		t.Errorf("wrote %q when not on a terminal", quiet.String())
	}
}
