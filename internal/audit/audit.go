package audit

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// Event is one audit record.
type Event struct {
	Time time.Time `json:"time"`
	User string    `json:"user"`
	// UserNamespace and TokenID identify the credential: the namespace the
	// token belongs to and its ID (empty for the admin token).
	UserNamespace string `json:"userNamespace,omitempty"`
	TokenID       string `json:"tokenID,omitempty"`
	Verb          string `json:"verb"`
	Kind          string `json:"kind,omitempty"`
	Namespace     string `json:"namespace,omitempty"`
	Name          string `json:"name,omitempty"`
	// Allowed is false when authentication (401) or authorization (403)
	// refused the request; other failures (404, 409, 422) were allowed.
	Allowed bool `json:"allowed"`
	Code    int  `json:"code"`
}

// Query selects events; zero fields match everything.
type Query struct {
	User  string
	Since time.Time
	// Limit keeps the newest Limit events; 0 means all.
	Limit int
}

// FileName is the active log's name inside the log directory.
const FileName = "audit.log"

// Log is an append-only, size-rotated audit log. It is safe for concurrent
// use.
type Log struct {
	dir      string
	maxBytes int64
	keep     int

	mu   sync.Mutex
	f    *os.File
	size int64
}

// Open opens (creating) the log in dir. The active file rotates when a
// line would take it past maxBytes; keep rotated files are retained.
func Open(dir string, maxBytes int64, keep int) (*Log, error) {
	if maxBytes <= 0 || keep < 1 {
		return nil, fmt.Errorf("audit log: maxBytes and keep must be positive (got %d, %d)", maxBytes, keep)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the audit log directory: %w", err)
	}
	l := &Log{dir: dir, maxBytes: maxBytes, keep: keep}
	if err := l.openLocked(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *Log) path(i int) string {
	if i == 0 {
		return filepath.Join(l.dir, FileName)
	}
	return filepath.Join(l.dir, FileName+"."+strconv.Itoa(i))
}

func (l *Log) openLocked() error {
	f, err := os.OpenFile(l.path(0), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("opening the audit log: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("reading the audit log size: %w", err)
	}
	l.f, l.size = f, fi.Size()
	return nil
}

// Record appends e. Each line is one write(2), so a crash never leaves
// half a record followed by another.
func (l *Log) Record(e Event) error {
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encoding an audit event: %w", err)
	}
	line = append(line, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return errors.New("audit log is closed")
	}
	if l.size > 0 && l.size+int64(len(line)) > l.maxBytes {
		if err := l.rotateLocked(); err != nil {
			return err
		}
	}
	n, err := l.f.Write(line)
	l.size += int64(n)
	if err != nil {
		return fmt.Errorf("writing the audit log: %w", err)
	}
	return nil
}

func (l *Log) rotateLocked() error {
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("closing the audit log for rotation: %w", err)
	}
	l.f = nil
	_ = os.Remove(l.path(l.keep))
	for i := l.keep - 1; i >= 0; i-- {
		if err := os.Rename(l.path(i), l.path(i+1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("rotating the audit log: %w", err)
		}
	}
	return l.openLocked()
}

// Close closes the active file.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// Query returns matching events, oldest first, from the rotated files and
// the active one.
func (l *Log) Query(q Query) ([]Event, error) {
	l.mu.Lock()
	defer l.mu.Unlock() // hold off rotation while reading
	var out []Event
	for i := l.keep; i >= 0; i-- {
		f, err := os.Open(l.path(i))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading the audit log: %w", err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var e Event
			if json.Unmarshal(sc.Bytes(), &e) != nil {
				continue // a torn last line after a crash
			}
			if (q.User == "" || e.User == q.User) && (q.Since.IsZero() || !e.Time.Before(q.Since)) {
				out = append(out, e)
			}
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("reading the audit log: %w", err)
		}
	}
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[len(out)-q.Limit:]
	}
	return out, nil
}
