package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"skiff.dev/skiff/api/v1alpha1"
)

const metricsSchema = `
CREATE TABLE IF NOT EXISTS points (
	id        INTEGER PRIMARY KEY,
	namespace TEXT    NOT NULL,
	job       TEXT    NOT NULL,
	name      TEXT    NOT NULL,
	step      INTEGER NOT NULL,
	value     REAL    NOT NULL,
	time      INTEGER NOT NULL,
	UNIQUE (namespace, job, name, step)
);
CREATE INDEX IF NOT EXISTS points_by_age ON points (namespace, job, id);
CREATE TABLE IF NOT EXISTS latest (
	namespace TEXT    NOT NULL,
	job       TEXT    NOT NULL,
	name      TEXT    NOT NULL,
	step      INTEGER NOT NULL,
	value     REAL    NOT NULL,
	time      INTEGER NOT NULL,
	PRIMARY KEY (namespace, job, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS log_offsets (
	namespace TEXT    NOT NULL,
	replica   TEXT    NOT NULL,
	job       TEXT    NOT NULL,
	offset    INTEGER NOT NULL,
	PRIMARY KEY (namespace, replica)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS log_offsets_by_job ON log_offsets (namespace, job);
`

// sqliteMetrics is Metrics in an SQLite file of its own (WAL,
// synchronous=NORMAL): a committed point survives the server being killed;
// only a power loss may take the last few, which is acceptable for
// metrics and keeps their writes from queueing behind object commits.
type sqliteMetrics struct {
	max int
	mu  sync.Mutex // serialises writers on w
	w   *sql.DB
	r   *sql.DB
	// counts are the points per job, counted once per job and then kept
	// current by the writer, so appending to a long series costs no count.
	counts map[seriesKey]int
}

// OpenSQLiteMetrics opens (creating if needed) the metrics database at
// path, keeping at most maxPerJob points per job (DefaultMaxPointsPerJob
// when 0).
func OpenSQLiteMetrics(path string, maxPerJob int) (Metrics, error) {
	if maxPerJob <= 0 {
		maxPerJob = DefaultMaxPointsPerJob
	}
	w, err := sql.Open("sqlite", sqliteDSN(path, url.Values{
		"_journal_mode": {"WAL"},
		"_synchronous":  {"NORMAL"},
		"_txlock":       {"immediate"},
	}))
	if err != nil {
		return nil, fmt.Errorf("open metrics %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	if _, err := w.Exec(metricsSchema); err != nil {
		w.Close()
		return nil, fmt.Errorf("open metrics %s: create schema: %w", path, err)
	}
	r, err := sql.Open("sqlite", sqliteDSN(path, url.Values{"_query_only": {"1"}}))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open metrics %s: read pool: %w", path, err)
	}
	r.SetMaxOpenConns(4)
	return &sqliteMetrics{max: maxPerJob, w: w, r: r, counts: map[seriesKey]int{}}, nil
}

func (m *sqliteMetrics) Append(ctx context.Context, namespace, job string, points []v1alpha1.MetricPoint) error {
	return m.write(ctx, namespace, job, points, func(*sql.Tx) error { return nil })
}

func (m *sqliteMetrics) AppendFromLog(ctx context.Context, namespace, job, replica string, offset int64, points []v1alpha1.MetricPoint) error {
	return m.write(ctx, namespace, job, points, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO log_offsets (namespace, replica, job, offset) VALUES (?, ?, ?, ?)
			ON CONFLICT (namespace, replica) DO UPDATE SET offset = excluded.offset`, namespace, replica, job, offset)
		return err
	})
}

func (m *sqliteMetrics) write(ctx context.Context, namespace, job string, points []v1alpha1.MetricPoint, extra func(*sql.Tx) error) (err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	tx, err := m.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("storing metrics: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback() //nolint:errcheck // the first error is what matters
			err = fmt.Errorf("storing metrics of %s/%s: %w", namespace, job, err)
		}
	}()
	k := seriesKey{namespace, job}
	count, counted := m.counts[k]
	if len(points) > 0 {
		if !counted {
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM points WHERE namespace = ? AND job = ?`, namespace, job).Scan(&count); err != nil {
				return err
			}
		}
		// A new step is inserted and counted; a repeated one is updated.
		ins, err := tx.PrepareContext(ctx, `INSERT INTO points (namespace, job, name, step, value, time) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (namespace, job, name, step) DO NOTHING`)
		if err != nil {
			return err
		}
		defer ins.Close()
		upd, err := tx.PrepareContext(ctx, `UPDATE points SET value = ?, time = ? WHERE namespace = ? AND job = ? AND name = ? AND step = ?`)
		if err != nil {
			return err
		}
		defer upd.Close()
		lat, err := tx.PrepareContext(ctx, `INSERT INTO latest (namespace, job, name, step, value, time) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (namespace, job, name) DO UPDATE SET step = excluded.step, value = excluded.value, time = excluded.time
			WHERE excluded.step >= latest.step`)
		if err != nil {
			return err
		}
		defer lat.Close()
		for _, pt := range points {
			t := pt.Time.UnixNano()
			res, err := ins.ExecContext(ctx, namespace, job, pt.Name, pt.Step, pt.Value, t)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 1 {
				count++
			} else if _, err := upd.ExecContext(ctx, pt.Value, t, namespace, job, pt.Name, pt.Step); err != nil {
				return err
			}
			if _, err := lat.ExecContext(ctx, namespace, job, pt.Name, pt.Step, pt.Value, t); err != nil {
				return err
			}
		}
		if count > m.max {
			if _, err := tx.ExecContext(ctx, `DELETE FROM points WHERE id IN
				(SELECT id FROM points WHERE namespace = ? AND job = ? ORDER BY id LIMIT ?)`, namespace, job, count-m.max); err != nil {
				return err
			}
			count = m.max
		}
	}
	if err := extra(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if len(points) > 0 {
		m.counts[k] = count
	}
	return nil
}

func (m *sqliteMetrics) LogOffset(ctx context.Context, namespace, replica string) (int64, error) {
	var off int64
	err := m.r.QueryRowContext(ctx, `SELECT offset FROM log_offsets WHERE namespace = ? AND replica = ?`, namespace, replica).Scan(&off)
	if err == sql.ErrNoRows {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading the log offset of %s/%s: %w", namespace, replica, err)
	}
	return off, nil
}

func (m *sqliteMetrics) Series(ctx context.Context, namespace, job, name string) ([]v1alpha1.MetricPoint, error) {
	q := `SELECT name, step, value, time FROM points WHERE namespace = ? AND job = ?`
	args := []any{namespace, job}
	if name != "" {
		q += ` AND name = ?`
		args = append(args, name)
	}
	return m.query(ctx, q+` ORDER BY name, step`, args...)
}

func (m *sqliteMetrics) Latest(ctx context.Context, namespace, job string) ([]v1alpha1.MetricPoint, error) {
	return m.query(ctx, `SELECT name, step, value, time FROM latest WHERE namespace = ? AND job = ? ORDER BY name`, namespace, job)
}

func (m *sqliteMetrics) query(ctx context.Context, q string, args ...any) ([]v1alpha1.MetricPoint, error) {
	rows, err := m.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("reading metrics: %w", err)
	}
	defer rows.Close()
	out := []v1alpha1.MetricPoint{}
	for rows.Next() {
		var pt v1alpha1.MetricPoint
		var t int64
		if err := rows.Scan(&pt.Name, &pt.Step, &pt.Value, &t); err != nil {
			return nil, fmt.Errorf("reading metrics: %w", err)
		}
		pt.Time = time.Unix(0, t).UTC()
		out = append(out, pt)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading metrics: %w", err)
	}
	return out, nil
}

func (m *sqliteMetrics) DeleteJob(ctx context.Context, namespace, job string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	// Counted afresh on the next append, whatever happens below.
	delete(m.counts, seriesKey{namespace, job})
	tx, err := m.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("deleting metrics of %s/%s: %w", namespace, job, err)
	}
	for _, q := range []string{
		`DELETE FROM points WHERE namespace = ? AND job = ?`,
		`DELETE FROM latest WHERE namespace = ? AND job = ?`,
		`DELETE FROM log_offsets WHERE namespace = ? AND job = ?`,
	} {
		if _, err := tx.ExecContext(ctx, q, namespace, job); err != nil {
			tx.Rollback() //nolint:errcheck // the first error is what matters
			return fmt.Errorf("deleting metrics of %s/%s: %w", namespace, job, err)
		}
	}
	return tx.Commit()
}

func (m *sqliteMetrics) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return errors.Join(m.r.Close(), m.w.Close())
}
