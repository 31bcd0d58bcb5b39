package controller

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/store"
)

// Recorder writes Event objects about other objects. Events are owned by
// the object they describe, so they go when it goes.
type Recorder struct {
	Store  store.Store
	Clock  clock.PassiveClock
	Source string
	Log    *slog.Logger
	// Observe, when set, is told about each event before it is written
	// (metrics and traces are derived from them); obj is the object as
	// the controller last wrote it.
	Observe func(obj v1alpha1.Object, eventType, reason string, now time.Time)
}

// Event records one event; failures are logged, never returned, because an
// event must not block the work it reports.
func (r *Recorder) Event(ctx context.Context, obj v1alpha1.Object, eventType, reason, format string, args ...any) {
	k, err := v1alpha1.KindOf(obj)
	if err != nil {
		return
	}
	now := metav1.NewTime(r.Clock.Now())
	if r.Observe != nil {
		r.Observe(obj, eventType, reason, now.Time)
	}
	ns := obj.GetNamespace()
	if ns == "" {
		ns = v1alpha1.DefaultNamespace
	}
	ev := &v1alpha1.Event{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns,
			Name:      fmt.Sprintf("%s.%x", obj.GetName(), now.UnixNano()),
		},
		InvolvedObject: v1alpha1.ObjectReference{Kind: k.Kind, Namespace: obj.GetNamespace(), Name: obj.GetName(), UID: string(obj.GetUID())},
		Reason:         reason,
		Message:        fmt.Sprintf(format, args...),
		Type:           eventType,
		Count:          1,
		FirstTimestamp: now,
		LastTimestamp:  now,
		Source:         r.Source,
	}
	if obj.GetNamespace() != "" && obj.GetUID() != "" {
		ev.OwnerReferences = []metav1.OwnerReference{{
			APIVersion: v1alpha1.APIVersion, Kind: k.Kind, Name: obj.GetName(), UID: obj.GetUID(),
		}}
	}
	v1alpha1.SetTypeMeta(ev)
	for i := 0; i < 3; i++ {
		err = r.Store.Create(ctx, ev)
		if err == nil || !strings.Contains(err.Error(), "already exists") {
			break
		}
		ev.Name = fmt.Sprintf("%s.%x%d", obj.GetName(), now.UnixNano(), i)
	}
	if err != nil && r.Log != nil {
		r.Log.Warn("recording event", "object", obj.GetName(), "reason", reason, "err", err)
	}
}
