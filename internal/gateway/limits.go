package gateway

import (
	"fmt"
	"math"
	"sync"
	"time"
)

// Limit caps one caller (a key or a namespace) of one service. Zero means
// unlimited.
type Limit struct {
	RequestsPerMinute int64
	TokensPerMinute   int64
}

// limiter keeps token buckets: for requests, one request takes one unit
// and is refused when less than one is left; for tokens, a request is let
// in while the bucket is not empty and its actual usage, known only when
// the answer ends, is charged afterwards (the bucket may go negative, which
// refuses later requests until it refills). Buckets refill continuously at
// limit/60 per second up to limit. Time is passed in.
type limiter struct {
	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	level float64
	at    time.Time
	limit int64
}

func newLimiter() *limiter { return &limiter{buckets: map[string]*bucket{}} }

// refill brings b to now. A bucket whose limit changed starts full.
func (l *limiter) get(key string, limit int64, now time.Time) *bucket {
	b, ok := l.buckets[key]
	if !ok || b.limit != limit {
		b = &bucket{level: float64(limit), at: now, limit: limit}
		l.buckets[key] = b
		return b
	}
	if dt := now.Sub(b.at); dt > 0 {
		b.level = math.Min(float64(limit), b.level+dt.Seconds()*float64(limit)/60)
		b.at = now
	}
	return b
}

// wait is how long until b holds need units.
func (b *bucket) wait(need float64) time.Duration {
	missing := need - b.level
	if missing <= 0 {
		return 0
	}
	return time.Duration(missing / (float64(b.limit) / 60) * float64(time.Second))
}

// limitCheck is one bucket pair a request must pass.
type limitCheck struct {
	key   string // bucket name, e.g. "key/tk-1/default/tiny"
	what  string // for the message: `key tk-1` or `namespace team-a`
	limit Limit
}

// admit takes one request from every check's request bucket and checks that
// no token bucket is empty, all or nothing. When refused it returns the
// longest wait among the refusing buckets and a message naming the limit.
func (l *limiter) admit(checks []limitCheck, now time.Time) (time.Duration, string) {
	if len(checks) == 0 {
		return 0, ""
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var wait time.Duration
	msg := ""
	for _, c := range checks {
		if c.limit.RequestsPerMinute > 0 {
			b := l.get(c.key+"/req", c.limit.RequestsPerMinute, now)
			if d := b.wait(1); d > 0 && d >= wait {
				wait, msg = d, fmt.Sprintf("Rate limit reached for %s: %d requests per minute", c.what, c.limit.RequestsPerMinute)
			}
		}
		if c.limit.TokensPerMinute > 0 {
			b := l.get(c.key+"/tok", c.limit.TokensPerMinute, now)
			// Empty means below one token: wait until a whole one is back.
			if b.level < 1 {
				if d := b.wait(1); d >= wait {
					wait, msg = d, fmt.Sprintf("Rate limit reached for %s: %d tokens per minute", c.what, c.limit.TokensPerMinute)
				}
			}
		}
	}
	if msg != "" {
		if wait < time.Second {
			wait = time.Second
		}
		return wait, msg
	}
	for _, c := range checks {
		if c.limit.RequestsPerMinute > 0 {
			l.buckets[c.key+"/req"].level--
		}
	}
	return 0, ""
}

// charge takes tokens used by a finished request from every token bucket.
func (l *limiter) charge(checks []limitCheck, tokens int64, now time.Time) {
	if tokens <= 0 || len(checks) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range checks {
		if c.limit.TokensPerMinute > 0 {
			b := l.get(c.key+"/tok", c.limit.TokensPerMinute, now)
			b.level -= float64(tokens)
		}
	}
}
