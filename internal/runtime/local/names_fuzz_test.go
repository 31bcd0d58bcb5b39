package local

import (
	"path/filepath"
	"strings"
	"testing"
)

// FuzzReplicaDir checks the one resolver every replica path (logs, state)
// goes through: whatever namespace and name a request carries, the result
// is either an error or a directory exactly two levels below the root.
func FuzzReplicaDir(f *testing.F) {
	for _, s := range [][2]string{
		{"team-a", "train-worker-0-0"}, {"..", "x"}, {"team-a", "../../etc"}, {"team-a", "a/b"},
		{"/abs", "x"}, {"", ""}, {"team-a", "."}, {"team-a", "a..b"}, {"ns\x00", "x"}, {"TEAM", "x"},
	} {
		f.Add(s[0], s[1])
	}
	root := filepath.Join(string(filepath.Separator), "srv", "skiff", "replicas")
	f.Fuzz(func(t *testing.T, namespace, name string) {
		dir, err := replicaDir(root, namespace, name)
		if err != nil {
			return
		}
		if filepath.Clean(dir) != dir || !strings.HasPrefix(dir, root+string(filepath.Separator)) {
			t.Fatalf("replicaDir(%q, %q) = %q escapes %s", namespace, name, dir, root)
		}
		rel, err := filepath.Rel(root, dir)
		if err != nil || rel != namespace+string(filepath.Separator)+name || strings.Count(rel, string(filepath.Separator)) != 1 {
			t.Fatalf("replicaDir(%q, %q) = %q is not root/namespace/name", namespace, name, dir)
		}
		for _, part := range []string{namespace, name} {
			if part == "" || part == "." || part == ".." || strings.ContainsAny(part, "/\\\x00") {
				t.Fatalf("replicaDir accepted path element %q", part)
			}
		}
		// LogPath's file name joins below the directory and stays there.
		if p := filepath.Join(dir, logFile); filepath.Dir(p) != dir {
			t.Fatalf("log file %q is not inside %q", p, dir)
		}
	})
}
