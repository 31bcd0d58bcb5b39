package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/watch"

	"skiff.dev/skiff/api/v1alpha1"
)

// HashPrefix starts Token.spec.secretHash.
const HashPrefix = "sha256:"

// HashToken returns the value stored in Token.spec.secretHash for token.
func HashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return HashPrefix + hex.EncodeToString(h[:])
}

func parseHash(s string) ([sha256.Size]byte, error) {
	var out [sha256.Size]byte
	hexPart, ok := strings.CutPrefix(s, HashPrefix)
	if !ok {
		return out, fmt.Errorf("secretHash %q does not start with %s", s, HashPrefix)
	}
	b, err := hex.DecodeString(hexPart)
	if err != nil || len(b) != sha256.Size {
		return out, fmt.Errorf("secretHash %q is not a hex SHA-256", s)
	}
	copy(out[:], b)
	return out, nil
}

// TokenCache authenticates the bootstrap admin token and every Token
// object, from memory: a request costs one SHA-256 and one map lookup, never
// a store read. It is kept current by watchcache (Replace/Apply) and, so
// that a revocation is effective before the revoke request is answered, by
// the API server calling Apply for its own token writes.
type TokenCache struct {
	admin [sha256.Size]byte
	now   func() time.Time

	mu     sync.RWMutex
	byHash map[[sha256.Size]byte]cachedToken
	byName map[string][sha256.Size]byte
	// seen is the newest resourceVersion applied per token name.
	seen map[string]int64
}

type cachedToken struct {
	id        Identity
	expiresAt time.Time // zero: never
}

// NewTokenCache accepts adminToken as cluster-admin, plus the tokens it is
// told about. now is the clock expiry is checked against.
func NewTokenCache(adminToken string, now func() time.Time) *TokenCache {
	if now == nil {
		now = time.Now
	}
	c := &TokenCache{now: now, byHash: map[[sha256.Size]byte]cachedToken{}, byName: map[string][sha256.Size]byte{}}
	if adminToken != "" {
		c.admin = sha256.Sum256([]byte(adminToken))
	}
	return c
}

// Authenticate implements apiserver.Authenticator. Expired tokens and
// tokens whose object was deleted (revoked) are refused.
func (c *TokenCache) Authenticate(token string) (Identity, bool) {
	if token == "" {
		return Identity{}, false
	}
	h := sha256.Sum256([]byte(token))
	var zero [sha256.Size]byte
	if c.admin != zero && subtle.ConstantTimeCompare(h[:], c.admin[:]) == 1 {
		return Identity{Name: AdminName, Admin: true}, true
	}
	c.mu.RLock()
	e, ok := c.byHash[h]
	c.mu.RUnlock()
	if !ok {
		return Identity{}, false
	}
	if !e.expiresAt.IsZero() && !c.now().Before(e.expiresAt) {
		return Identity{}, false
	}
	return e.id, true
}

// Replace implements watchcache.Handler.
func (c *TokenCache) Replace(objs []v1alpha1.Object) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.byHash = map[[sha256.Size]byte]cachedToken{}
	c.byName = map[string][sha256.Size]byte{}
	c.seen = map[string]int64{}
	for _, o := range objs {
		if t, ok := o.(*v1alpha1.Token); ok {
			c.putLocked(t)
		}
	}
}

// Apply implements watchcache.Handler.
func (c *TokenCache) Apply(typ watch.EventType, obj v1alpha1.Object) {
	t, ok := obj.(*v1alpha1.Token)
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = map[string]int64{}
	}
	// Events can arrive twice and late (the server's own writes are applied
	// at once, then come again from the watch): an event older than what
	// the cache already reflects, including a deletion, must not bring a
	// revoked token back.
	if rv := v1alpha1.Revision(t.ResourceVersion); rv > 0 {
		if rv <= c.seen[t.Name] {
			return
		}
		c.seen[t.Name] = rv
	}
	if old, ok := c.byName[t.Name]; ok {
		delete(c.byHash, old)
		delete(c.byName, t.Name)
	}
	// A token marked for deletion is already revoked.
	if typ != watch.Deleted && t.DeletionTimestamp == nil {
		c.putLocked(t)
	}
}

func (c *TokenCache) putLocked(t *v1alpha1.Token) {
	h, err := parseHash(t.Spec.SecretHash)
	if err != nil || t.DeletionTimestamp != nil {
		return // a token without a valid hash authenticates nobody
	}
	e := cachedToken{id: Identity{Name: t.Spec.User, Namespace: t.Spec.Namespace, Role: t.Spec.Role, TokenID: t.Name}}
	if t.Spec.ExpiresAt != nil {
		e.expiresAt = t.Spec.ExpiresAt.Time
	}
	c.byHash[h] = e
	c.byName[t.Name] = h
}
