package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"

	"k8s.io/apimachinery/pkg/watch"
	"modernc.org/sqlite" // also registers the "sqlite" database/sql driver
	sqlite3 "modernc.org/sqlite/lib"
)

// maxBatch bounds one group commit. Larger batches amortise the fsync
// further but delay the first writer of the batch; past a few hundred rows
// the fsync is no longer the dominant cost.
const maxBatch = 512

// maxYields bounds how often the writer yields to let more writes join a
// batch before it commits (see loop).
const maxYields = 8

const sqliteSchema = `
CREATE TABLE IF NOT EXISTS objects (
	kind      TEXT    NOT NULL,
	namespace TEXT    NOT NULL,
	name      TEXT    NOT NULL,
	rev       INTEGER NOT NULL,
	owned     INTEGER NOT NULL,
	value     BLOB    NOT NULL,
	PRIMARY KEY (kind, namespace, name)
);
CREATE TABLE IF NOT EXISTS owners (
	owner_uid TEXT NOT NULL,
	kind      TEXT NOT NULL,
	namespace TEXT NOT NULL,
	name      TEXT NOT NULL,
	PRIMARY KEY (owner_uid, kind, namespace, name)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS owners_by_dependent ON owners (kind, namespace, name);
CREATE TABLE IF NOT EXISTS meta (
	key   TEXT PRIMARY KEY,
	value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO meta (key, value) VALUES ('revision', 0);
`

// OpenSQLite opens (creating if needed) the SQLite database at path. Writes
// are committed with fsync (WAL, synchronous=FULL) before they return;
// concurrent writes share commits (group commit), which is where durable
// throughput comes from.
func OpenSQLite(path string, clock Clock) (Store, error) {
	return OpenSQLiteWithOptions(path, clock, Options{})
}

// OpenSQLiteWithOptions is OpenSQLite with tunables.
func OpenSQLiteWithOptions(path string, clock Clock, opts Options) (Store, error) {
	if clock == nil {
		return nil, errors.New("open sqlite store: nil Clock")
	}
	var h *hub
	kv, err := openSQLiteKV(path, func(chs []change) { h.publish(chs) })
	if err != nil {
		return nil, err
	}
	h = newHub(kv.revision(), opts.watchHistory())
	return newStore(kv, h, clock), nil
}

// writeReq is one op waiting for the writer goroutine.
type writeReq struct {
	ctx  context.Context
	op   op
	done chan writeRes // buffered: the writer never blocks on a caller
}

type writeRes struct {
	rev int64
	err error
}

// sqliteKV is the SQLite backend. All writes go through one goroutine that
// owns the only write connection, so revisions are assigned without locks
// and batches commit in order; reads use a separate pool and see committed
// data only (WAL snapshots).
type sqliteKV struct {
	publish func([]change)
	w       *sql.DB // one connection, used only by the writer goroutine
	r       *sql.DB // read pool

	reqs    chan *writeReq // unbuffered: a pending send is a queued writer
	quit    chan struct{}
	stopped chan struct{}
	rev     int64 // owned by the writer goroutine after open

	sel, upsert, del, delOwners, addOwner, setRev  *sql.Stmt // writer connection
	insert, selRev, savepoint, rollbackTo, release *sql.Stmt
	read                                           *sql.Stmt // read pool
}

func sqliteDSN(path string, extra url.Values) string {
	q := url.Values{}
	q.Set("_busy_timeout", "10000")
	for k, v := range extra {
		q[k] = v
	}
	return "file:" + path + "?" + q.Encode()
}

func openSQLiteKV(path string, publish func([]change)) (*sqliteKV, error) {
	w, err := sql.Open("sqlite", sqliteDSN(path, url.Values{
		"_journal_mode": {"WAL"},
		"_synchronous":  {"FULL"},
		// Take the write lock when the batch's transaction begins, where the
		// busy timeout applies, rather than when its first write upgrades a
		// read snapshot, which can fail with SQLITE_BUSY at once.
		"_txlock": {"immediate"},
	}))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	if _, err := w.Exec(sqliteSchema); err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %s: create schema: %w", path, err)
	}
	b := &sqliteKV{publish: publish, w: w, reqs: make(chan *writeReq), quit: make(chan struct{}), stopped: make(chan struct{})}
	if err := w.QueryRow(`SELECT value FROM meta WHERE key = 'revision'`).Scan(&b.rev); err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %s: read revision: %w", path, err)
	}
	stmts := []struct {
		dst **sql.Stmt
		sql string
	}{
		{&b.sel, `SELECT rev, owned, value FROM objects WHERE kind = ? AND namespace = ? AND name = ?`},
		{&b.upsert, `INSERT INTO objects (kind, namespace, name, rev, owned, value) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (kind, namespace, name) DO UPDATE SET rev = excluded.rev, owned = excluded.owned, value = excluded.value`},
		{&b.del, `DELETE FROM objects WHERE kind = ? AND namespace = ? AND name = ?`},
		{&b.delOwners, `DELETE FROM owners WHERE kind = ? AND namespace = ? AND name = ?`},
		{&b.addOwner, `INSERT OR IGNORE INTO owners (owner_uid, kind, namespace, name) VALUES (?, ?, ?, ?)`},
		{&b.setRev, `UPDATE meta SET value = ? WHERE key = 'revision'`},
		{&b.insert, `INSERT INTO objects (kind, namespace, name, rev, owned, value) VALUES (?, ?, ?, ?, ?, ?)`},
		{&b.selRev, `SELECT rev FROM objects WHERE kind = ? AND namespace = ? AND name = ?`},
		{&b.savepoint, `SAVEPOINT op`},
		{&b.rollbackTo, `ROLLBACK TO op`},
		{&b.release, `RELEASE op`},
	}
	for _, s := range stmts {
		if *s.dst, err = w.Prepare(s.sql); err != nil {
			w.Close()
			return nil, fmt.Errorf("open sqlite %s: prepare: %w", path, err)
		}
	}
	b.r, err = sql.Open("sqlite", sqliteDSN(path, url.Values{"_query_only": {"1"}}))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %s: read pool: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	b.r.SetMaxOpenConns(n)
	b.r.SetMaxIdleConns(n)
	if b.read, err = b.r.Prepare(`SELECT rev, value FROM objects WHERE kind = ? AND namespace = ? AND name = ?`); err != nil {
		b.r.Close()
		w.Close()
		return nil, fmt.Errorf("open sqlite %s: prepare read: %w", path, err)
	}
	go b.loop()
	return b, nil
}

func (b *sqliteKV) revision() int64 {
	// Only meaningful before the writer starts publishing; the store reads
	// its revision from the hub afterwards.
	return b.rev
}

func (b *sqliteKV) get(ctx context.Context, k key) ([]byte, int64, error) {
	var rev int64
	var raw []byte
	err := b.read.QueryRowContext(ctx, k.kind, k.namespace, k.name).Scan(&rev, &raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, errKeyNotFound
	}
	if err != nil {
		return nil, 0, err
	}
	return raw, rev, nil
}

func (b *sqliteKV) list(ctx context.Context, f listFilter, fn func(raw []byte) error) (rev int64, err error) {
	tx, err := b.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return 0, err
	}
	defer tx.Rollback() //nolint:errcheck // read-only: nothing to lose
	// Reading the revision inside the transaction pins the WAL snapshot the
	// rows below come from, so the revision matches them exactly.
	if err := tx.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'revision'`).Scan(&rev); err != nil {
		return 0, err
	}
	q := strings.Builder{}
	q.WriteString(`SELECT value FROM objects WHERE kind = ?`)
	args := []any{f.kind}
	if f.namespace != "" {
		q.WriteString(` AND namespace = ?`)
		args = append(args, f.namespace)
	}
	if f.name != "" {
		q.WriteString(` AND name = ?`)
		args = append(args, f.name)
	}
	q.WriteString(` ORDER BY namespace, name`)
	rows, err := tx.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var raw sql.RawBytes // reused per row: nothing is decoded or retained
	for rows.Next() {
		if err := rows.Scan(&raw); err != nil {
			return 0, err
		}
		if err := fn(raw); err != nil {
			return 0, err
		}
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	return rev, nil
}

func (b *sqliteKV) dependents(ctx context.Context, ownerUID string) ([]key, error) {
	rows, err := b.r.QueryContext(ctx, `SELECT kind, namespace, name FROM owners WHERE owner_uid = ?`, ownerUID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []key
	for rows.Next() {
		var k key
		if err := rows.Scan(&k.kind, &k.namespace, &k.name); err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

func (b *sqliteKV) apply(ctx context.Context, o op) (int64, error) {
	r := &writeReq{ctx: ctx, op: o, done: make(chan writeRes, 1)}
	select {
	case b.reqs <- r:
	case <-b.quit:
		return 0, errClosed
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	// Once queued, wait for the outcome even if ctx ends: the write may
	// already be committed and the caller must not be told otherwise.
	res := <-r.done
	return res.rev, res.err
}

// loop is the writer goroutine: it takes every queued request (yielding
// first to let runnable writers queue theirs), commits them in one
// transaction, and only then acknowledges them.
func (b *sqliteKV) loop() {
	defer close(b.stopped)
	batch := make([]*writeReq, 0, maxBatch)
	for {
		select {
		case r := <-b.reqs:
			batch = append(batch[:0], r)
		case <-b.quit:
			return
		}
		// Before committing, yield while yielding brings more writes (at
		// most maxYields times). The writers the last commit answered are
		// runnable but may not have run yet; with the CPUs busy, committing
		// at once would leave each of them a commit of its own. A yield
		// lets the runnable goroutines run first, so with the CPUs busy it
		// waits for them: that is its purpose, and what it gains is shared
		// commits, each of which costs far more than the wait (see
		// BenchmarkSQLiteControllerUpdates). With nothing else runnable a
		// yield returns at once.
		yields, before := 0, len(batch)
	drain:
		for len(batch) < maxBatch {
			select {
			case r := <-b.reqs:
				batch = append(batch, r)
			default:
				if yields == maxYields || (yields > 0 && len(batch) == before) {
					break drain
				}
				yields, before = yields+1, len(batch)
				runtime.Gosched()
			}
		}
		b.commit(batch)
	}
}

func (b *sqliteKV) commit(batch []*writeReq) {
	res := make([]writeRes, len(batch))
	fail := func(err error) {
		for i, r := range batch {
			r.done <- writeRes{err: err}
			batch[i] = nil
		}
	}
	ctx := context.Background()
	tx, err := b.w.BeginTx(ctx, nil)
	if err != nil {
		fail(fmt.Errorf("begin: %w", err))
		return
	}
	rev := b.rev
	st := b.bind(ctx, tx)
	var changes []change
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			res[i].err = err
			continue
		}
		ch, err := b.applyOne(ctx, st, r.op, rev+1)
		if err != nil {
			res[i].err = err
			continue
		}
		rev++
		res[i].rev = rev
		changes = append(changes, ch)
	}
	if rev != b.rev {
		if _, err := tx.StmtContext(ctx, b.setRev).ExecContext(ctx, rev); err != nil {
			tx.Rollback() //nolint:errcheck // the commit error is what matters
			fail(fmt.Errorf("save revision: %w", err))
			return
		}
	}
	if err := tx.Commit(); err != nil {
		fail(fmt.Errorf("commit: %w", err))
		return
	}
	b.rev = rev
	b.publish(changes)
	for i, r := range batch {
		r.done <- res[i]
		batch[i] = nil
	}
}

// batchStmts are the writer's prepared statements bound to one batch
// transaction, bound once per batch rather than once per use.
type batchStmts struct {
	sel, upsert, del, delOwners, addOwner *sql.Stmt
	insert, selRev                        *sql.Stmt
	savepoint, rollbackTo, release        *sql.Stmt
}

func (b *sqliteKV) bind(ctx context.Context, tx *sql.Tx) batchStmts {
	return batchStmts{
		sel:        tx.StmtContext(ctx, b.sel),
		upsert:     tx.StmtContext(ctx, b.upsert),
		del:        tx.StmtContext(ctx, b.del),
		delOwners:  tx.StmtContext(ctx, b.delOwners),
		addOwner:   tx.StmtContext(ctx, b.addOwner),
		insert:     tx.StmtContext(ctx, b.insert),
		selRev:     tx.StmtContext(ctx, b.selRev),
		savepoint:  tx.StmtContext(ctx, b.savepoint),
		rollbackTo: tx.StmtContext(ctx, b.rollbackTo),
		release:    tx.StmtContext(ctx, b.release),
	}
}

// applyOne runs one op inside the batch transaction. When it fails, none of
// its writes remain and its batch-mates commit regardless: a single
// statement is atomic by itself in SQLite, and an op that needs several
// (owner index maintenance) runs inside a savepoint.
func (b *sqliteKV) applyOne(ctx context.Context, st batchStmts, o op, rev int64) (ch change, err error) {
	k := o.key
	if o.expect == 0 && !o.del {
		return b.create(ctx, st, o, rev)
	}
	var curRev, owned int64
	var prev []byte
	err = st.sel.QueryRowContext(ctx, k.kind, k.namespace, k.name).Scan(&curRev, &owned, &prev)
	exists := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return ch, err
	}
	if curRev != o.expect {
		return ch, &casMismatchError{key: k, current: curRev}
	}
	raw, err := o.encode(rev)
	if err != nil {
		return ch, err
	}
	if owned != 0 || len(o.owners) > 0 {
		var release func(error)
		if release, err = savepoint(ctx, st); err != nil {
			return ch, err
		}
		defer func() { release(err) }() // err: the op's outcome
	}
	if owned != 0 {
		if _, err := st.delOwners.ExecContext(ctx, k.kind, k.namespace, k.name); err != nil {
			return ch, err
		}
	}
	ch = change{key: k, rev: rev, raw: raw, prev: prev}
	if o.del {
		if _, err := st.del.ExecContext(ctx, k.kind, k.namespace, k.name); err != nil {
			return ch, err
		}
		ch.typ = watch.Deleted
		return ch, nil
	}
	isOwned := 0
	if len(o.owners) > 0 {
		isOwned = 1
	}
	if _, err := st.upsert.ExecContext(ctx, k.kind, k.namespace, k.name, rev, isOwned, raw); err != nil {
		return ch, err
	}
	for _, uid := range o.owners {
		if _, err := st.addOwner.ExecContext(ctx, uid, k.kind, k.namespace, k.name); err != nil {
			return ch, err
		}
	}
	ch.typ = watch.Modified
	if !exists {
		ch.typ = watch.Added
	}
	return ch, nil
}

// create runs an op that makes a new key: an insert, which the primary
// key refuses when the key exists, with no read first (a create's previous
// value is nothing, and it has no owner rows to replace).
func (b *sqliteKV) create(ctx context.Context, st batchStmts, o op, rev int64) (ch change, err error) {
	k := o.key
	raw, err := o.encode(rev)
	if err != nil {
		return ch, err
	}
	isOwned := 0
	if len(o.owners) > 0 {
		isOwned = 1
		var release func(error)
		if release, err = savepoint(ctx, st); err != nil {
			return ch, err
		}
		defer func() { release(err) }() // err: the op's outcome
	}
	if _, err := st.insert.ExecContext(ctx, k.kind, k.namespace, k.name, rev, isOwned, raw); err != nil {
		var se *sqlite.Error
		if !errors.As(err, &se) || (se.Code() != sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY && se.Code() != sqlite3.SQLITE_CONSTRAINT_UNIQUE) {
			return ch, err
		}
		var cur int64
		if err := st.selRev.QueryRowContext(ctx, k.kind, k.namespace, k.name).Scan(&cur); err != nil {
			return ch, err
		}
		return ch, &casMismatchError{key: k, current: cur}
	}
	for _, uid := range o.owners {
		if _, err := st.addOwner.ExecContext(ctx, uid, k.kind, k.namespace, k.name); err != nil {
			return ch, err
		}
	}
	return change{typ: watch.Added, key: k, rev: rev, raw: raw}, nil
}

// savepoint starts a savepoint for an op that writes several rows and
// returns what ends it: rolled back to when the op failed (err != nil),
// released either way, so that a failed op leaves none of its rows.
func savepoint(ctx context.Context, st batchStmts) (func(err error), error) {
	if _, err := st.savepoint.ExecContext(ctx); err != nil {
		return nil, err
	}
	return func(err error) {
		if err != nil {
			st.rollbackTo.ExecContext(ctx) //nolint:errcheck // the op's own error is what is reported
		}
		st.release.ExecContext(ctx) //nolint:errcheck // a failed release fails the commit
	}, nil
}

func (b *sqliteKV) close() error {
	close(b.quit)
	<-b.stopped
	return errors.Join(b.r.Close(), b.w.Close())
}
