package reqlog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"skiff.dev/skiff/internal/gateway"
)

// Defaults of Options.
const (
	DefaultMaxEntries = 1_000_000
	DefaultMaxAge     = 30 * 24 * time.Hour
	DefaultBuffer     = 4096
	DefaultBatch      = 256
	// MaxQueryLimit bounds the entries one Query returns.
	MaxQueryLimit = 10_000
	// DefaultQueryLimit is used when Query.Limit is 0.
	DefaultQueryLimit = 100
)

// Entry is one recorded gateway request.
type Entry struct {
	ID        int64     `json:"id"`
	Time      time.Time `json:"time"`
	Namespace string    `json:"namespace"`
	Service   string    `json:"service"`
	Model     string    `json:"model"`
	// Key is the id of the Token the request was made with ("admin" for
	// the bootstrap admin token); never the secret.
	Key              string `json:"key"`
	Replica          string `json:"replica,omitempty"`
	Path             string `json:"path"`
	Stream           bool   `json:"stream"`
	Status           int    `json:"status"`
	PromptTokens     int64  `json:"promptTokens"`
	CompletionTokens int64  `json:"completionTokens"`
	// TTFTSeconds is the time to the first token of a stream (0 for
	// answers that were not streamed).
	TTFTSeconds    float64 `json:"ttftSeconds,omitempty"`
	LatencySeconds float64 `json:"latencySeconds"`
	QueuedSeconds  float64 `json:"queuedSeconds,omitempty"`
	// Prompt is the request body, kept only for services with
	// spec.logPrompts.
	Prompt string `json:"prompt,omitempty"`
}

// FromRecord turns a gateway record into an entry.
func FromRecord(r gateway.RequestRecord) Entry {
	e := Entry{Time: r.Start.UTC(), Namespace: r.Namespace, Service: r.Service, Model: r.Model, Key: r.Key,
		Replica: r.Replica, Path: r.Path, Stream: r.Stream, Status: r.Status,
		PromptTokens: r.PromptTokens, CompletionTokens: r.CompletionTokens,
		QueuedSeconds: r.Queued.Seconds(), Prompt: r.Prompt}
	if !r.End.IsZero() {
		e.LatencySeconds = r.End.Sub(r.Start).Seconds()
	}
	if !r.FirstToken.IsZero() {
		e.TTFTSeconds = r.FirstToken.Sub(r.Start).Seconds()
	}
	return e
}

// Options configure a Log.
type Options struct {
	// MaxEntries keeps at most this many rows (DefaultMaxEntries when 0).
	MaxEntries int
	// MaxAge deletes rows older than this (DefaultMaxAge when 0).
	MaxAge time.Duration
	// Buffer is how many records may wait for the writer (DefaultBuffer
	// when 0); Batch is the most rows one transaction writes
	// (DefaultBatch when 0).
	Buffer, Batch int
	// Now is the clock retention by age uses (time.Now when nil).
	Now func() time.Time
	Log *slog.Logger
}

// Log is the request log. Its methods are safe for concurrent use.
type Log struct {
	opts    Options
	w, r    *sql.DB
	in      chan Entry
	flush   chan chan error
	done    chan struct{}
	dropped atomic.Int64

	mu     sync.RWMutex // guards closed against sends on in
	closed bool
}

const schema = `
CREATE TABLE IF NOT EXISTS requests (
	id                INTEGER PRIMARY KEY,
	time              INTEGER NOT NULL,
	namespace         TEXT    NOT NULL,
	service           TEXT    NOT NULL,
	model             TEXT    NOT NULL,
	key               TEXT    NOT NULL,
	replica           TEXT    NOT NULL,
	path              TEXT    NOT NULL,
	stream            INTEGER NOT NULL,
	status            INTEGER NOT NULL,
	prompt_tokens     INTEGER NOT NULL,
	completion_tokens INTEGER NOT NULL,
	ttft_ns           INTEGER NOT NULL,
	latency_ns        INTEGER NOT NULL,
	queued_ns         INTEGER NOT NULL,
	prompt            TEXT
);
CREATE INDEX IF NOT EXISTS requests_by_time ON requests (time);
CREATE INDEX IF NOT EXISTS requests_by_namespace ON requests (namespace, id);
-- Covers Summarize: the sums are read from the index, grouped in order.
CREATE INDEX IF NOT EXISTS requests_summary ON requests
	(namespace, model, time, status, prompt_tokens, completion_tokens, latency_ns, ttft_ns);
`

func dsn(path string, pragmas ...string) string {
	q := url.Values{}
	for _, p := range append([]string{"busy_timeout(10000)"}, pragmas...) {
		q.Add("_pragma", p)
	}
	return "file:" + path + "?" + q.Encode()
}

// Open opens (creating if needed) the request log at path and starts its
// writer. Close stops it.
func Open(path string, opts Options) (*Log, error) {
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = DefaultMaxEntries
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = DefaultMaxAge
	}
	if opts.Buffer <= 0 {
		opts.Buffer = DefaultBuffer
	}
	if opts.Batch <= 0 {
		opts.Batch = DefaultBatch
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	w, err := sql.Open("sqlite", dsn(path, "journal_mode(WAL)", "synchronous(NORMAL)"))
	if err != nil {
		return nil, fmt.Errorf("open request log %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	if _, err := w.Exec(schema); err != nil {
		w.Close()
		return nil, fmt.Errorf("open request log %s: create schema: %w", path, err)
	}
	r, err := sql.Open("sqlite", dsn(path, "query_only(1)"))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open request log %s: read pool: %w", path, err)
	}
	r.SetMaxOpenConns(4)
	l := &Log{opts: opts, w: w, r: r, in: make(chan Entry, opts.Buffer), flush: make(chan chan error), done: make(chan struct{})}
	go l.run()
	return l, nil
}

// Observe records a finished gateway request without waiting for the
// write (gateway.Config.Observe).
func (l *Log) Observe(r gateway.RequestRecord) { l.Record(FromRecord(r)) }

// Record queues e for writing. It never blocks: when the buffer is full
// or the log is closed, e is dropped and counted.
func (l *Log) Record(e Entry) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		l.dropped.Add(1)
		return
	}
	select {
	case l.in <- e:
	default:
		l.dropped.Add(1)
	}
}

// Dropped counts the records lost to a full buffer or a failed write.
func (l *Log) Dropped() int64 { return l.dropped.Load() }

// Flush waits until every record queued before it is written.
func (l *Log) Flush(ctx context.Context) error {
	ack := make(chan error, 1)
	select {
	case l.flush <- ack:
	case <-l.done:
		return errors.New("the request log is closed")
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-ack:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close writes what is buffered, stops the writer and closes the file.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.in)
	l.mu.Unlock()
	<-l.done
	return errors.Join(l.r.Close(), l.w.Close())
}

// run is the writer: it takes what is buffered, up to a batch, and writes
// it in one transaction.
func (l *Log) run() {
	defer close(l.done)
	batch := make([]Entry, 0, l.opts.Batch)
	for {
		select {
		case e, ok := <-l.in:
			if !ok {
				return
			}
			batch = append(batch[:0], e)
		fill:
			for len(batch) < l.opts.Batch {
				select {
				case e, ok := <-l.in:
					if !ok {
						break fill
					}
					batch = append(batch, e)
				default:
					break fill
				}
			}
			if err := l.write(batch); err != nil {
				l.dropped.Add(int64(len(batch)))
				l.opts.Log.Warn("writing the request log", "err", err, "lost", len(batch))
			}
		case ack := <-l.flush:
			ack <- l.drain(batch)
		}
	}
}

// drain writes everything buffered now, in batches.
func (l *Log) drain(batch []Entry) error {
	var errs []error
	for {
		batch = batch[:0]
	fill:
		for len(batch) < l.opts.Batch {
			select {
			case e, ok := <-l.in:
				if !ok {
					break fill
				}
				batch = append(batch, e)
			default:
				break fill
			}
		}
		if len(batch) == 0 {
			return errors.Join(errs...)
		}
		if err := l.write(batch); err != nil {
			l.dropped.Add(int64(len(batch)))
			errs = append(errs, err)
		}
	}
}

func (l *Log) write(batch []Entry) (err error) {
	ctx := context.Background()
	tx, err := l.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("writing %d requests: %w", len(batch), err)
	}
	defer func() {
		if err != nil {
			tx.Rollback() //nolint:errcheck // the first error is what matters
			err = fmt.Errorf("writing %d requests: %w", len(batch), err)
		}
	}()
	ins, err := tx.PrepareContext(ctx, `INSERT INTO requests (time, namespace, service, model, key, replica, path, stream, status,
		prompt_tokens, completion_tokens, ttft_ns, latency_ns, queued_ns, prompt) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer ins.Close()
	for _, e := range batch {
		var prompt any
		if e.Prompt != "" {
			prompt = e.Prompt
		}
		if _, err := ins.ExecContext(ctx, e.Time.UnixNano(), e.Namespace, e.Service, e.Model, e.Key, e.Replica, e.Path, e.Stream, e.Status,
			e.PromptTokens, e.CompletionTokens, secondsToNanos(e.TTFTSeconds), secondsToNanos(e.LatencySeconds), secondsToNanos(e.QueuedSeconds), prompt); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM requests WHERE time < ?`, l.opts.Now().Add(-l.opts.MaxAge).UnixNano()); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM requests WHERE id <= (SELECT max(id) FROM requests) - ?`, l.opts.MaxEntries); err != nil {
		return err
	}
	return tx.Commit()
}

func secondsToNanos(s float64) int64 { return int64(s * 1e9) }

// Query selects entries. Namespaces nil means every namespace; an empty,
// non-nil slice selects none.
type Query struct {
	Namespaces []string
	Model      string
	// Service keeps the requests made to the InferenceService of this
	// name (in any of Namespaces).
	Service string
	// Since keeps entries at or after this time (zero: all).
	Since time.Time
	// Limit is the most entries returned, newest first
	// (DefaultQueryLimit when 0, at most MaxQueryLimit).
	Limit int
}

func (q Query) where() (string, []any) {
	var conds []string
	var args []any
	if q.Namespaces != nil {
		if len(q.Namespaces) == 0 {
			return " WHERE 0", nil
		}
		conds = append(conds, "namespace IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(q.Namespaces)), ", ")+")")
		for _, ns := range q.Namespaces {
			args = append(args, ns)
		}
	}
	if q.Model != "" {
		conds = append(conds, "model = ?")
		args = append(args, q.Model)
	}
	if q.Service != "" {
		conds = append(conds, "service = ?")
		args = append(args, q.Service)
	}
	if !q.Since.IsZero() {
		conds = append(conds, "time >= ?")
		args = append(args, q.Since.UnixNano())
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// Query returns the entries q selects, newest first.
func (l *Log) Query(ctx context.Context, q Query) ([]Entry, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultQueryLimit
	}
	limit = min(limit, MaxQueryLimit)
	where, args := q.where()
	rows, err := l.r.QueryContext(ctx, `SELECT id, time, namespace, service, model, key, replica, path, stream, status,
		prompt_tokens, completion_tokens, ttft_ns, latency_ns, queued_ns, coalesce(prompt, '') FROM requests`+where+
		` ORDER BY id DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("reading the request log: %w", err)
	}
	defer rows.Close()
	out := []Entry{}
	for rows.Next() {
		var e Entry
		var t, ttft, lat, queued int64
		if err := rows.Scan(&e.ID, &t, &e.Namespace, &e.Service, &e.Model, &e.Key, &e.Replica, &e.Path, &e.Stream, &e.Status,
			&e.PromptTokens, &e.CompletionTokens, &ttft, &lat, &queued, &e.Prompt); err != nil {
			return nil, fmt.Errorf("reading the request log: %w", err)
		}
		e.Time = time.Unix(0, t).UTC()
		e.TTFTSeconds, e.LatencySeconds, e.QueuedSeconds = float64(ttft)/1e9, float64(lat)/1e9, float64(queued)/1e9
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the request log: %w", err)
	}
	return out, nil
}

// Summary is the usage of one model in one namespace.
type Summary struct {
	Namespace        string `json:"namespace"`
	Model            string `json:"model"`
	Requests         int64  `json:"requests"`
	Errors           int64  `json:"errors"`
	PromptTokens     int64  `json:"promptTokens"`
	CompletionTokens int64  `json:"completionTokens"`
	TotalTokens      int64  `json:"totalTokens"`
	// MeanLatencySeconds averages every request; MeanTTFTSeconds the
	// streamed ones that produced a token (0 when none did).
	MeanLatencySeconds float64 `json:"meanLatencySeconds"`
	MeanTTFTSeconds    float64 `json:"meanTTFTSeconds,omitempty"`
}

// Summarize sums the entries q selects (its Limit is ignored) per
// namespace and model.
func (l *Log) Summarize(ctx context.Context, q Query) ([]Summary, error) {
	where, args := q.where()
	rows, err := l.r.QueryContext(ctx, `SELECT namespace, model, count(*), sum(status >= 400), sum(prompt_tokens), sum(completion_tokens),
		avg(latency_ns), coalesce(avg(CASE WHEN ttft_ns > 0 THEN ttft_ns END), 0) FROM requests`+where+
		` GROUP BY namespace, model ORDER BY namespace, model`, args...)
	if err != nil {
		return nil, fmt.Errorf("summarizing the request log: %w", err)
	}
	defer rows.Close()
	out := []Summary{}
	for rows.Next() {
		var s Summary
		var lat, ttft float64
		if err := rows.Scan(&s.Namespace, &s.Model, &s.Requests, &s.Errors, &s.PromptTokens, &s.CompletionTokens, &lat, &ttft); err != nil {
			return nil, fmt.Errorf("summarizing the request log: %w", err)
		}
		s.TotalTokens = s.PromptTokens + s.CompletionTokens
		s.MeanLatencySeconds, s.MeanTTFTSeconds = lat/1e9, ttft/1e9
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("summarizing the request log: %w", err)
	}
	return out, nil
}
