package store_test

import (
	"testing"

	"skiff.dev/skiff/internal/store"
	"skiff.dev/skiff/internal/store/storetest"
)

func TestMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s := store.NewMemoryWithOptions(storetest.FixedClock, store.Options{WatchHistory: 64})
		t.Cleanup(func() { s.Close() })
		return s
	})
}
