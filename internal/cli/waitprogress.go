package cli

import (
	"fmt"
	"io"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/api/v1alpha1"
)

// waitProgress shows, on a terminal, what `skiff wait` is waiting on: a
// spinner and the object's phase and waiting reason, redrawn in place.
// A nil *waitProgress does nothing (output is not a terminal).
type waitProgress struct {
	w      io.Writer
	mu     sync.Mutex
	what   string // e.g. job/train
	status string
	frame  int
	stop   chan struct{}
	done   chan struct{}
}

var spinnerFrames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// progressWidth bounds a status line so it never wraps on a narrow terminal.
const progressWidth = 100

// newWaitProgress starts a spinner on w when tty; nil otherwise.
func newWaitProgress(w io.Writer, tty bool, every time.Duration) *waitProgress {
	if !tty {
		return nil
	}
	p := &waitProgress{w: w, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.draw()
			}
		}
	}()
	return p
}

// observe records the latest state of the object waited on.
func (p *waitProgress) observe(what string, obj v1alpha1.Object) {
	if p == nil {
		return
	}
	status := ""
	if j, ok := obj.(*v1alpha1.Job); ok {
		status = string(j.Status.Phase)
		if status == "" {
			status = string(v1alpha1.JobPending)
		}
		if c := meta.FindStatusCondition(j.Status.Conditions, v1alpha1.JobConditionAdmitted); c != nil && c.Status == metav1.ConditionFalse && c.Message != "" {
			status += ": " + oneLine(c.Message)
		}
	}
	p.mu.Lock()
	p.what, p.status = what, status
	p.mu.Unlock()
	p.draw()
}

func (p *waitProgress) draw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.what == "" {
		return
	}
	line := spinnerFrames[p.frame%len(spinnerFrames)] + " waiting on " + p.what
	if p.status != "" {
		line += " (" + p.status + ")"
	}
	if r := []rune(line); len(r) > progressWidth {
		line = string(r[:progressWidth-1]) + "…"
	}
	p.frame++
	fmt.Fprint(p.w, "\r\x1b[K"+line)
}

// finish stops the spinner and clears its line.
func (p *waitProgress) finish() {
	if p == nil {
		return
	}
	close(p.stop)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.what != "" {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}
