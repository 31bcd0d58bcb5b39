package scheduler

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff.dev/skiff/api/v1alpha1"
)

// TestSortPendingMatchesAFullSort: whatever order keys come in (sorted,
// nearly sorted as the live loop hands them over, shuffled, reversed),
// sortPending leaves them in comparePending's order.
func TestSortPendingMatchesAFullSort(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for trial := range 300 {
		n := 1 + r.IntN(400)
		pending := make([]*v1alpha1.Job, n)
		keys := make([]pendingKey, n)
		for i := range n {
			// Names whose order differs from arrival (job-9 > job-10), a
			// few priorities and levels, creation times in whole seconds.
			pending[i] = &v1alpha1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: fmt.Sprintf("ns%d", r.IntN(2)), Name: fmt.Sprintf("job-%d", i)}}
			keys[i] = pendingKey{sec: int64(i / 10), prio: int32(r.IntN(1 + trial%3)), level: int32(r.IntN(1 + trial%2)), pos: int32(i)}
		}
		switch trial % 4 {
		case 1: // nearly sorted: a few keys moved a little
			for range 1 + n/20 {
				i, j := r.IntN(n), r.IntN(n)
				if d := i - j; d > -8 && d < 8 {
					keys[i], keys[j] = keys[j], keys[i]
				}
			}
		case 2:
			r.Shuffle(n, func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
		case 3:
			slices.Reverse(keys)
		}
		want := slices.Clone(keys)
		slices.SortFunc(want, func(a, b pendingKey) int { return comparePending(&a, &b, pending) })
		sortPending(keys, pending, nil)
		if !slices.Equal(keys, want) {
			t.Fatalf("trial %d (%d keys): order differs from a full sort", trial, n)
		}
	}
}
