package auth

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"skiff.dev/skiff/api/v1alpha1"
)

func token(name, secret string, expires *time.Time) *v1alpha1.Token {
	t := &v1alpha1.Token{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.TokenSpec{User: "alice", Namespace: "team-a", Role: "editor", SecretHash: HashToken(secret)}}
	if expires != nil {
		e := metav1.NewTime(*expires)
		t.Spec.ExpiresAt = &e
	}
	return t
}

func TestTokenCache(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewTokenCache("skf_admin", func() time.Time { return now })
	later := now.Add(time.Hour)
	c.Replace([]v1alpha1.Object{token("tk-a", "skf_a", nil), token("tk-b", "skf_b", &later)})

	if id, ok := c.Authenticate("skf_admin"); !ok || !id.Admin {
		t.Fatalf("admin token: %+v %v", id, ok)
	}
	id, ok := c.Authenticate("skf_a")
	if !ok || id != (Identity{Name: "alice", Namespace: "team-a", Role: "editor", TokenID: "tk-a"}) {
		t.Fatalf("tk-a: %+v %v", id, ok)
	}
	if _, ok := c.Authenticate("skf_b"); !ok {
		t.Fatal("tk-b before expiry refused")
	}
	now = later
	if _, ok := c.Authenticate("skf_b"); ok {
		t.Error("an expired token was accepted")
	}
	c.Apply(watch.Deleted, token("tk-a", "skf_a", nil))
	if _, ok := c.Authenticate("skf_a"); ok {
		t.Error("a revoked token was accepted")
	}
	// A token whose stored hash changed answers only to the new secret.
	c.Apply(watch.Added, token("tk-c", "skf_c1", nil))
	c.Apply(watch.Modified, token("tk-c", "skf_c2", nil))
	if _, ok := c.Authenticate("skf_c1"); ok {
		t.Error("the old secret still works")
	}
	if _, ok := c.Authenticate("skf_c2"); !ok {
		t.Error("the new secret is refused")
	}
	// A late event older than a revocation does not bring the token back.
	fresh := token("tk-d", "skf_d", nil)
	fresh.ResourceVersion = "10"
	c.Apply(watch.Added, fresh)
	gone := fresh.DeepCopy()
	gone.ResourceVersion = "12"
	c.Apply(watch.Deleted, gone)
	stale := fresh.DeepCopy()
	stale.ResourceVersion = "11"
	c.Apply(watch.Modified, stale)
	if _, ok := c.Authenticate("skf_d"); ok {
		t.Error("a stale event revived a revoked token")
	}
	for _, bad := range []string{"", "skf_", "Bearer skf_a", "skf_admin "} {
		if _, ok := c.Authenticate(bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}
	bad := token("tk-d", "skf_d", nil)
	bad.Spec.SecretHash = "md5:abc"
	c.Apply(watch.Added, bad)
	if _, ok := c.Authenticate("skf_d"); ok {
		t.Error("a token with an invalid hash was accepted")
	}
}
