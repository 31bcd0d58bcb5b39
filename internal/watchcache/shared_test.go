package watchcache_test

import (
	"context"
	"testing"
	"time"

	"k8s.io/client-go/tools/cache"

	"skiff.dev/skiff/api/v1alpha1"
	"skiff.dev/skiff/internal/store"
	"skiff.dev/skiff/internal/watchcache"
)

// TestSharedInformerServesEveryCaller checks that controllers asking a
// Shared set for the same kind get one running informer, that handlers
// added later still see existing and new objects, and that For without a
// set gives a caller an informer of its own.
func TestSharedInformerServesEveryCaller(t *testing.T) {
	st := store.NewMemory(time.Now)
	defer st.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := st.Create(ctx, ns("before")); err != nil {
		t.Fatal(err)
	}
	k, _ := v1alpha1.LookupKind("Namespace")
	shared := watchcache.NewShared(ctx, st)
	a, runA := watchcache.For(ctx, shared, st, k)
	b, runB := watchcache.For(ctx, shared, st, k)
	if a != b {
		t.Fatal("two callers of one Shared set got different informers for one kind")
	}
	runA() // no-ops: the set runs its informers
	runB()
	seen := make(chan string, 4)
	if _, err := b.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: func(obj any) { seen <- obj.(v1alpha1.Object).GetName() }}); err != nil {
		t.Fatal(err)
	}
	if !cache.WaitForCacheSync(ctx.Done(), a.HasSynced) {
		t.Fatal("shared informer never synced")
	}
	if err := st.Create(ctx, ns("after")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"before", "after"} {
		select {
		case got := <-seen:
			if got != want {
				t.Fatalf("handler saw %q, want %q", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("handler never saw %q", want)
		}
	}
	own, run := watchcache.For(ctx, nil, st, k)
	if own == a {
		t.Fatal("For without a set returned the shared informer")
	}
	go run()
	if !cache.WaitForCacheSync(ctx.Done(), own.HasSynced) || len(own.GetStore().List()) != 2 {
		t.Fatalf("own informer lists %d namespaces, want 2", len(own.GetStore().List()))
	}
}
