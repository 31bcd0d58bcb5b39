package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// TokenPrefix starts every token skiff issues, so that secret scanners and
// people recognise one.
const TokenPrefix = "skf_"

// AdminName is the identity name of the bootstrap admin token.
const AdminName = "admin"

// Identity is who a request acts as.
type Identity struct {
	Name string
	// Admin is cluster-admin: it may do anything, in every namespace.
	Admin bool
	// Namespace and Role are the one namespace a token reaches and the
	// role it has there (v1alpha1.RoleViewer, RoleEditor or RoleAdmin).
	// Both are empty for cluster-admins.
	Namespace string
	Role      string
	// TokenID names the Token object the identity came from ("" for the
	// bootstrap admin token).
	TokenID string
	// Job and JobUID, when set, make this a job's own token (see
	// JobTokens): it reaches that job's metrics and notice in Namespace
	// and nothing else.
	Job    string
	JobUID string
}

// NewToken returns a fresh random token: TokenPrefix followed by 32 random
// bytes in unpadded base64url.
func NewToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating a token: %w", err)
	}
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// EnsureAdminToken returns the admin token stored at path, creating the file
// (mode 0600, parent directories 0700) with a new token when it does not
// exist. Creation uses O_EXCL so two servers starting at once agree on one
// token.
func EnsureAdminToken(path string) (string, error) {
	if tok, err := readToken(path); err == nil {
		return tok, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("creating the directory of the admin token file: %w", err)
	}
	tok, err := NewToken()
	if err != nil {
		return "", err
	}
	// Write the token to a private temporary file first and link it into
	// place: the link appears with its whole content or not at all, and it
	// fails if another process already created the file, whose token then
	// wins. (Creating the file with O_EXCL and writing it afterwards would let
	// a concurrent reader see it empty.)
	f, err := os.CreateTemp(filepath.Dir(path), ".admin.token-*")
	if err != nil {
		return "", fmt.Errorf("creating the admin token file: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return "", fmt.Errorf("creating the admin token file: %w", err)
	}
	_, err = f.WriteString(tok + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("writing the admin token file %s: %w", path, err)
	}
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readToken(path)
		}
		return "", fmt.Errorf("creating the admin token file %s: %w", path, err)
	}
	return tok, nil
}

// ReadTokenFile reads a token written by EnsureAdminToken (or by hand),
// ignoring surrounding whitespace.
func ReadTokenFile(path string) (string, error) { return readToken(path) }

func readToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading token file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("token file %s is empty: delete it and restart the server to generate a new one", path)
	}
	return tok, nil
}

// Tokens is an Authenticator over a set of tokens. It stores only their
// SHA-256 hashes. The zero value accepts nothing; it is safe for concurrent
// use.
type Tokens struct {
	mu      sync.RWMutex
	entries []entry
}

type entry struct {
	hash [sha256.Size]byte
	id   Identity
}

// NewTokens returns an Authenticator that accepts adminToken as the admin.
func NewTokens(adminToken string) *Tokens {
	t := &Tokens{}
	t.Add(adminToken, Identity{Name: AdminName, Admin: true})
	return t
}

// Add accepts token as id. An empty token is ignored so that a missing
// configuration value can never mean "anyone".
func (t *Tokens) Add(token string, id Identity) {
	if token == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.entries = append(t.entries, entry{hash: sha256.Sum256([]byte(token)), id: id})
}

// Authenticate returns the identity of token. It hashes the token and
// compares against every entry without stopping early, so the time taken
// does not depend on which entry (if any) matched.
func (t *Tokens) Authenticate(token string) (Identity, bool) {
	if token == "" {
		return Identity{}, false
	}
	h := sha256.Sum256([]byte(token))
	t.mu.RLock()
	defer t.mu.RUnlock()
	var found Identity
	ok := 0
	for _, e := range t.entries {
		if subtle.ConstantTimeCompare(h[:], e.hash[:]) == 1 {
			found, ok = e.id, 1
		}
	}
	return found, ok == 1
}

type ctxKey struct{}

// WithIdentity returns a context carrying id, for admission hooks and
// handlers downstream of authentication.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// IdentityFrom returns the identity stored by WithIdentity.
func IdentityFrom(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(ctxKey{}).(Identity)
	return id, ok
}
