package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
)

// JobTokenPrefix starts every job token.
const JobTokenPrefix = "skj_"

// JobTokens issues and checks the tokens injected into a job's replicas as
// $SKIFF_JOB_TOKEN. A job token is
//
//	skj_<base64url(namespace/job/uid)>.<base64url(HMAC-SHA256(key, same))>
//
// so it needs no storage: the server recomputes the MAC. It names the job's
// uid, so a token of a deleted job does not reach a new job of the same
// name (the API compares the uid with the stored job's).
type JobTokens struct {
	key []byte
}

// NewJobTokens returns JobTokens over a secret key; the server keeps the
// key in its data directory so tokens stay valid across restarts.
func NewJobTokens(key string) *JobTokens {
	return &JobTokens{key: []byte(key)}
}

func (j *JobTokens) mac(payload string) []byte {
	m := hmac.New(sha256.New, j.key)
	m.Write([]byte("skiff job token\x00" + payload))
	return m.Sum(nil)
}

// Issue returns the token of one job.
func (j *JobTokens) Issue(namespace, job, uid string) string {
	payload := namespace + "/" + job + "/" + uid
	return JobTokenPrefix + base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." +
		base64.RawURLEncoding.EncodeToString(j.mac(payload))
}

// Authenticate implements the API's Authenticator for job tokens.
func (j *JobTokens) Authenticate(token string) (Identity, bool) {
	rest, ok := strings.CutPrefix(token, JobTokenPrefix)
	if !ok || len(j.key) == 0 {
		return Identity{}, false
	}
	enc, sig, ok := strings.Cut(rest, ".")
	if !ok {
		return Identity{}, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return Identity{}, false
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, j.mac(string(raw))) {
		return Identity{}, false
	}
	parts := strings.Split(string(raw), "/")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return Identity{}, false
	}
	return Identity{Name: "system:job:" + parts[0] + "/" + parts[1], Namespace: parts[0], Job: parts[1], JobUID: parts[2]}, true
}

// Authenticator is what the API authenticates bearer tokens with.
type Authenticator interface {
	Authenticate(token string) (Identity, bool)
}

// Chain authenticates job tokens with Jobs and every other token with
// Users.
type Chain struct {
	Users Authenticator
	Jobs  *JobTokens
}

// Authenticate implements the API's Authenticator.
func (c Chain) Authenticate(token string) (Identity, bool) {
	if strings.HasPrefix(token, JobTokenPrefix) {
		if c.Jobs == nil {
			return Identity{}, false
		}
		return c.Jobs.Authenticate(token)
	}
	return c.Users.Authenticate(token)
}
