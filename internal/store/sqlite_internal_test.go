package store

import (
	"path/filepath"
	"testing"
)

// TestSQLitePragmas pins the settings durability depends on: WAL, and
// synchronous=FULL so that a commit is fsynced before it is acknowledged.
func TestSQLitePragmas(t *testing.T) {
	kv, err := openSQLiteKV(filepath.Join(t.TempDir(), "p.db"), func([]change) {})
	if err != nil {
		t.Fatal(err)
	}
	defer kv.close()
	var mode string
	var sync int
	if err := kv.w.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if err := kv.w.QueryRow(`PRAGMA synchronous`).Scan(&sync); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" || sync != 2 {
		t.Errorf("journal_mode=%s synchronous=%d, want wal and 2 (FULL)", mode, sync)
	}
}
