package scheduler

import (
	"strconv"
	"strings"

	"skiff.dev/skiff/api/v1alpha1"
)

// A cycle writes a waiting reason for nearly every pending job (tens of
// thousands at cluster scale), so reasons are rendered by appending to one
// reusable byte buffer and copied into large shared blocks, rather than
// concatenated piece by piece with an allocation per piece and per job.

// strArena hands out immutable strings carved from large blocks. A block
// is a strings.Builder that is only ever appended to, so every string
// taken from it stays valid (Builder never rewrites bytes it has handed
// out); a full block is simply left to the strings that point into it.
type strArena struct {
	b strings.Builder
}

const arenaBlock = 64 << 10

// str returns a string with the contents of p.
func (a *strArena) str(p []byte) string {
	if len(p) == 0 {
		return ""
	}
	if a.b.Cap()-a.b.Len() < len(p) {
		a.b = strings.Builder{}
		a.b.Grow(max(arenaBlock, len(p)))
	}
	start := a.b.Len()
	a.b.Write(p)
	return a.b.String()[start:]
}

// amountKey keys the cache of amounts whose text needs resource.Quantity.
type amountKey struct {
	name string
	v    int64
}

// textCache renders amounts for reasons, remembering the ones that need
// resource.Quantity (fractions, memory) since the same few values recur
// across thousands of jobs in a cycle.
type textCache struct {
	amounts map[amountKey]string
}

// appendAmount appends formatAmount(name, v).
func (c *textCache) appendAmount(b []byte, name string, v int64) []byte {
	if v < unlimited/2 && v%1000 == 0 && (name == v1alpha1.ResourceCPU || name == v1alpha1.ResourceGPU) {
		return strconv.AppendInt(b, v/1000, 10)
	}
	k := amountKey{name, v}
	s, ok := c.amounts[k]
	if !ok {
		if c.amounts == nil {
			c.amounts = map[amountKey]string{}
		}
		s = formatAmount(name, v)
		c.amounts[k] = s
	}
	return append(b, s...)
}

// waitingWriter fills Plan.Waiting. With many pending jobs a second
// goroutine makes the map writes, which at cluster scale cost as much as
// deciding (hashing ~100,000 keys into a map far larger than the caches),
// while the cycle goes on; it applies them in the order they were made, so
// the map ends up exactly as with direct writes.
type waitingWriter struct {
	m     map[string]string
	batch []waitEntry
	ch    chan []waitEntry // batches to write, in order
	free  chan []waitEntry // written batches, for reuse
	done  chan struct{}
}

type waitEntry struct{ key, reason string }

const waitBatch = 1024

func newWaitingWriter(m map[string]string, async bool) *waitingWriter {
	w := &waitingWriter{m: m}
	if !async {
		return w
	}
	w.ch, w.free, w.done = make(chan []waitEntry, 16), make(chan []waitEntry, 4), make(chan struct{})
	w.batch = make([]waitEntry, 0, waitBatch)
	go func(m map[string]string, ch <-chan []waitEntry, free chan<- []waitEntry, done chan<- struct{}) {
		defer close(done)
		for b := range ch {
			for _, e := range b {
				m[e.key] = e.reason
			}
			select {
			case free <- b:
			default:
			}
		}
	}(w.m, w.ch, w.free, w.done)
	return w
}

// set records Waiting[key] = reason.
func (w *waitingWriter) set(key, reason string) {
	if w.ch == nil {
		w.m[key] = reason
		return
	}
	w.batch = append(w.batch, waitEntry{key, reason})
	if len(w.batch) == waitBatch {
		w.ch <- w.batch
		select {
		case b := <-w.free:
			w.batch = b[:0]
		default:
			w.batch = make([]waitEntry, 0, waitBatch)
		}
	}
}

// close waits until every write is in the map.
func (w *waitingWriter) close() {
	if w.ch == nil {
		return
	}
	if len(w.batch) > 0 {
		w.ch <- w.batch
	}
	close(w.ch)
	<-w.done
	w.ch = nil
}
