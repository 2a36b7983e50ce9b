package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"gateway/unify"
)

// JobKind names what a job does when it comes due.
type JobKind string

// Job kinds.
const (
	JobSend    JobKind = "send"     // ref: message id; take the message's next step
	JobTimeout JobKind = "timeout"  // ref: attempt id; the step was not delivered in time
	JobMOFlush JobKind = "mo_flush" // ref: fragment group; give up waiting for missing parts
)

// Job is a unit of work that comes due at RunAt. At most one job exists per
// (Kind, Ref), which is what makes a timer fire once even with several
// workers.
type Job struct {
	ID    int64     `db:"id"`
	Kind  JobKind   `db:"kind"`
	Ref   string    `db:"ref"`
	RunAt time.Time `db:"-"`
	Tries int       `db:"tries"`
}

// AddJob schedules a job, or moves an existing one with the same kind and
// ref to runAt.
func (t *Tx) AddJob(kind JobKind, ref string, runAt time.Time) error {
	_, err := t.exec(`INSERT INTO jobs (kind, ref, run_at) VALUES (?,?,?)
		ON CONFLICT (kind, ref) DO UPDATE SET run_at = excluded.run_at, lease_owner = '', lease_until = 0`,
		kind, ref, micros(runAt))
	if err != nil {
		return fmt.Errorf("sqlstore: add job: %w", err)
	}
	return nil
}

// AddLeasedJob schedules a new job already leased to owner until
// leaseUntil, as if claimed at once: the instance that creates it works it
// from memory without a claim. On PostgreSQL the job is stored, and another
// instance takes it over when the lease expires. On SQLite, where this
// process is the store's one user, a send job is not (its ID is 0): the
// message itself, accepted and not yet sent, stands for it. RetryJob stores
// it should the send have to wait, and RequeueUnsent after a crash. That
// spares the writer a row written and deleted for every message. The ref
// must be new (a fresh message).
func (t *Tx) AddLeasedJob(kind JobKind, ref string, runAt time.Time, owner string, leaseUntil time.Time) (Job, error) {
	j := Job{Kind: kind, Ref: ref, RunAt: runAt, Tries: 1}
	if t.s.soleWriter() && kind == JobSend {
		return j, nil
	}
	const q = `INSERT INTO jobs (kind, ref, run_at, lease_owner, lease_until, tries) VALUES (?,?,?,?,?,1)`
	args := []any{string(kind), ref, micros(runAt), owner, micros(leaseUntil)}
	var err error
	if t.s.dialect == Postgres {
		err = t.get(&j.ID, q+` RETURNING id`, args...)
	} else {
		// Through go-sqlite3 an INSERT … RETURNING runs as a query, at more
		// than twice the cost of an exec and its last insert id.
		var res sql.Result
		if res, err = t.exec(q, args...); err == nil {
			j.ID, err = res.LastInsertId()
		}
	}
	if err != nil {
		return j, fmt.Errorf("sqlstore: add leased job: %w", err)
	}
	return j, nil
}

// RequeueUnsent stores a send job for every accepted message without one:
// on SQLite, the sends held in memory (see AddLeasedJob) that a crash cut
// short. Call it before any such send starts. It returns how many it stored.
func (s *Store) RequeueUnsent(ctx context.Context, now time.Time) (int64, error) {
	if !s.soleWriter() {
		return 0, nil
	}
	var n int64
	err := s.InTx(ctx, func(t *Tx) error {
		var err error
		n, err = t.execRows(`INSERT INTO jobs (kind, ref, run_at)
			SELECT ?, id, ? FROM messages WHERE status = ? AND `+inStatusIndex+`
			AND NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.kind = ? AND jobs.ref = messages.id)`,
			string(JobSend), micros(now), string(unify.StatusAccepted), string(JobSend))
		if err != nil {
			return fmt.Errorf("sqlstore: requeue unsent messages: %w", err)
		}
		return nil
	})
	return n, err
}

// DeleteJob removes a job (done, or no longer needed).
func (t *Tx) DeleteJob(kind JobKind, ref string) error {
	if _, err := t.exec(`DELETE FROM jobs WHERE kind = ? AND ref = ?`, kind, ref); err != nil {
		return fmt.Errorf("sqlstore: delete job: %w", err)
	}
	return nil
}

// CompleteJob removes a claimed job, but only while the caller still holds
// its lease: a job re-leased by another worker after ours expired is theirs.
func (t *Tx) CompleteJob(j Job, owner string) error {
	if j.ID == 0 {
		return nil // held in memory: nothing stored
	}
	if _, err := t.exec(`DELETE FROM jobs WHERE id = ? AND lease_owner = ?`, j.ID, owner); err != nil {
		return fmt.Errorf("sqlstore: complete job: %w", err)
	}
	return nil
}

// RetryJob releases a claimed job to run again at runAt; a job held in
// memory is stored.
func (s *Store) RetryJob(ctx context.Context, j Job, owner string, runAt time.Time, reason string) error {
	if j.ID == 0 {
		return s.exec(ctx, `INSERT INTO jobs (kind, ref, run_at, tries, last_error) VALUES (?,?,?,?,?)
			ON CONFLICT (kind, ref) DO UPDATE SET run_at = excluded.run_at, lease_owner = '', lease_until = 0,
			tries = excluded.tries, last_error = excluded.last_error`,
			string(j.Kind), j.Ref, micros(runAt), j.Tries, truncate(reason, 500))
	}
	return s.exec(ctx, `UPDATE jobs SET run_at = ?, lease_owner = '', lease_until = 0, last_error = ? WHERE id = ? AND lease_owner = ?`,
		micros(runAt), truncate(reason, 500), j.ID, owner)
}

// ClaimJobs leases up to limit due jobs of the given kinds to owner until
// leaseUntil. Claiming send jobs also moves their messages from accepted to
// sending, in the same statement batch, so the API shows progress without a
// write per message.
func (s *Store) ClaimJobs(ctx context.Context, owner string, kinds []JobKind, now, leaseUntil time.Time, limit int) ([]Job, error) {
	if len(kinds) == 0 || limit <= 0 {
		return nil, nil
	}
	ph := strings.TrimSuffix(strings.Repeat("?,", len(kinds)), ",")
	args := []any{owner, micros(leaseUntil)}
	for _, k := range kinds {
		args = append(args, k)
	}
	args = append(args, micros(now), micros(now), limit)
	// On SQLite the unary + keeps the planner off indexes that lead to a
	// sort of the whole queue (kind, via jobs_kind_ref) or a walk of every
	// accepted message (status): run_at order and the primary key are the
	// right paths. PostgreSQL plans these well as written.
	skip, kindCol, statusCol := "", "+kind", "+status"
	if s.dialect == Postgres {
		skip, kindCol, statusCol = " FOR UPDATE SKIP LOCKED", "kind", "status"
	}
	q := `UPDATE jobs SET lease_owner = ?, lease_until = ?, tries = tries + 1
		WHERE id IN (SELECT id FROM jobs WHERE ` + kindCol + ` IN (` + ph + `) AND run_at <= ? AND lease_until <= ? ORDER BY run_at LIMIT ?` + skip + `)
		RETURNING id, kind, ref, run_at, tries`
	var jobs []Job
	err := s.InTx(ctx, func(t *Tx) error {
		jobs = jobs[:0] // the unit may run twice (see InTx)
		rows, err := t.tx.QueryxContext(ctx, t.tx.Rebind(q), args...)
		if err != nil {
			return classify(fmt.Errorf("sqlstore: claim jobs: %w", err))
		}
		defer rows.Close()
		var sends []any
		for rows.Next() {
			var j Job
			var runAt int64
			if err := rows.Scan(&j.ID, &j.Kind, &j.Ref, &runAt, &j.Tries); err != nil {
				return fmt.Errorf("sqlstore: claim jobs: %w", err)
			}
			j.RunAt = fromMicros(runAt)
			jobs = append(jobs, j)
			if j.Kind == JobSend {
				sends = append(sends, j.Ref)
			}
		}
		if err := rows.Err(); err != nil {
			return classify(fmt.Errorf("sqlstore: claim jobs: %w", err))
		}
		rows.Close()
		if len(sends) > 0 {
			ph := strings.TrimSuffix(strings.Repeat("?,", len(sends)), ",")
			args := append([]any{unify.StatusSending, micros(now)}, sends...)
			args = append(args, unify.StatusAccepted)
			if _, err := t.exec(`UPDATE messages SET status = ?, updated_at = ? WHERE id IN (`+ph+`) AND `+statusCol+` = ?`, args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return jobs, nil
}

// RenewJobLeases extends every job lease owner holds to until: they are the
// jobs it is working on (a finished job is deleted, a retried one released).
func (s *Store) RenewJobLeases(ctx context.Context, owner string, until time.Time) error {
	return s.exec(ctx, `UPDATE jobs SET lease_until = ? WHERE lease_owner = ? AND lease_until <> 0`, micros(until), owner)
}

// ReleaseLeases frees every lease. A single-node gateway calls it at start:
// leases left by a killed process would otherwise delay its work until they
// expire. (Several nodes on PostgreSQL rely on expiry instead.)
func (s *Store) ReleaseLeases(ctx context.Context) error {
	return s.InTx(ctx, func(t *Tx) error {
		if _, err := t.exec(`UPDATE jobs SET lease_owner = '', lease_until = 0 WHERE lease_until <> 0`); err != nil {
			return err
		}
		_, err := t.exec(`UPDATE events SET lease_owner = '', lease_until = 0 WHERE lease_until <> 0 AND delivered_at IS NULL`)
		return err
	})
}

// NextJobAt returns when the earliest job of the given kinds comes due, so a
// worker can sleep until then; ok is false when there is none.
func (s *Store) NextJobAt(ctx context.Context, kinds []JobKind) (time.Time, bool, error) {
	ph := strings.TrimSuffix(strings.Repeat("?,", len(kinds)), ",")
	args := make([]any, 0, len(kinds))
	for _, k := range kinds {
		args = append(args, k)
	}
	// The earliest unleased job, or the earliest lease to expire (its holder
	// may have died), each found through its own partial index.
	var due, leased sql.NullInt64
	ctx, err := s.brief(ctx)
	if err != nil {
		return time.Time{}, false, err
	}
	err = s.r.GetContext(ctx, &due, s.r.Rebind(`SELECT MIN(run_at) FROM (SELECT run_at FROM jobs WHERE lease_until = 0 AND kind IN (`+ph+`) ORDER BY run_at LIMIT 1) x`), args...)
	if err == nil {
		err = s.r.GetContext(ctx, &leased, s.r.Rebind(`SELECT MIN(lease_until) FROM (SELECT lease_until FROM jobs WHERE lease_until <> 0 AND kind IN (`+ph+`) ORDER BY lease_until LIMIT 1) x`), args...)
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, classify(err)
	}
	switch {
	case due.Valid && leased.Valid:
		return fromMicros(min(due.Int64, leased.Int64)), true, nil
	case due.Valid:
		return fromMicros(due.Int64), true, nil
	case leased.Valid:
		return fromMicros(leased.Int64), true, nil
	}
	return time.Time{}, false, nil
}

// CountJobs counts jobs by kind (metrics, tests).
func (s *Store) CountJobs(ctx context.Context, kind JobKind) (int, error) {
	var n int
	err := s.r.GetContext(ctx, &n, s.r.Rebind(`SELECT COUNT(*) FROM jobs WHERE kind = ?`), kind)
	return n, classify(err)
}

// truncate shortens s to at most n bytes without splitting a UTF-8
// sequence: PostgreSQL refuses invalid UTF-8 in a TEXT column where SQLite
// stores anything.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
