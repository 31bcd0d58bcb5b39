package auth

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEnsureAdminTokenCreatesThenReads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "admin.token")
	tok, err := EnsureAdminToken(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, TokenPrefix) || len(tok) != len(TokenPrefix)+43 {
		t.Fatalf("token %q: want %s + 43 base64url characters", tok, TokenPrefix)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("mode = %o, want 600", got)
	}
	again, err := EnsureAdminToken(path)
	if err != nil {
		t.Fatal(err)
	}
	if again != tok {
		t.Errorf("second call returned %q, want the stored %q", again, tok)
	}
}

func TestEnsureAdminTokenConcurrentAgree(t *testing.T) {
	path := filepath.Join(t.TempDir(), "admin.token")
	toks := make([]string, 8)
	var wg sync.WaitGroup
	for i := range toks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := EnsureAdminToken(path)
			if err != nil {
				t.Error(err)
			}
			toks[i] = tok
		}()
	}
	wg.Wait()
	for _, tok := range toks {
		if tok != toks[0] {
			t.Fatalf("tokens differ: %q", toks)
		}
	}
}

func TestEnsureAdminTokenEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "admin.token")
	if err := os.WriteFile(path, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := EnsureAdminToken(path); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("err = %v, want an error saying the file is empty", err)
	}
}

func TestTokensAuthenticate(t *testing.T) {
	a := NewTokens("skf_admin")
	a.Add("skf_alice", Identity{Name: "alice"})
	a.Add("", Identity{Name: "nobody", Admin: true})
	tests := []struct {
		token  string
		want   Identity
		wantOK bool
	}{
		{"skf_admin", Identity{Name: AdminName, Admin: true}, true},
		{"skf_alice", Identity{Name: "alice"}, true},
		{"skf_admin ", Identity{}, false},
		{"", Identity{}, false},
		{"skf_mallory", Identity{}, false},
	}
	for _, tt := range tests {
		got, ok := a.Authenticate(tt.token)
		if ok != tt.wantOK {
			t.Errorf("Authenticate(%q) ok = %v, want %v", tt.token, ok, tt.wantOK)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Authenticate(%q) (-want +got):\n%s", tt.token, diff)
		}
	}
	var zero Tokens
	if _, ok := zero.Authenticate("anything"); ok {
		t.Error("zero Tokens accepted a token")
	}
}

func TestIdentityContext(t *testing.T) {
	if _, ok := IdentityFrom(context.Background()); ok {
		t.Fatal("empty context has an identity")
	}
	id := Identity{Name: "bob"}
	got, ok := IdentityFrom(WithIdentity(context.Background(), id))
	if !ok || got != id {
		t.Fatalf("got %v %v", got, ok)
	}
}
