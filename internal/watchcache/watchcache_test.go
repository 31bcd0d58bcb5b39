package watchcache_test

import (
	"context"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/store"
	"skiff.dev/skiff/internal/watchcache"
)

type names struct {
	mu  sync.Mutex
	set map[string]bool
}

func (n *names) Replace(objs []v1alpha1.Object) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.set = map[string]bool{}
	for _, o := range objs {
		n.set[o.GetName()] = true
	}
}

func (n *names) Apply(typ watch.EventType, obj v1alpha1.Object) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if typ == watch.Deleted {
		delete(n.set, obj.GetName())
	} else {
		n.set[obj.GetName()] = true
	}
}

func (n *names) has(name string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.set[name]
}

func ns(name string) *v1alpha1.Namespace {
	o := &v1alpha1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	v1alpha1.SetTypeMeta(o)
	return o
}

func TestStartListsThenFollows(t *testing.T) {
	st := store.NewMemory(time.Now)
	defer st.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := st.Create(ctx, ns("before")); err != nil {
		t.Fatal(err)
	}
	k, _ := v1alpha1.LookupKind("Namespace")
	h := &names{}
	if err := watchcache.Start(ctx, st, k, h); err != nil {
		t.Fatal(err)
	}
	if !h.has("before") {
		t.Fatal("Start returned before the initial list was loaded")
	}
	if err := st.Create(ctx, ns("after")); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(ctx, k, "", "before", store.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !h.has("after") || h.has("before") {
		if time.Now().After(deadline) {
			t.Fatalf("the cache did not follow the store: %v", h.set)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
