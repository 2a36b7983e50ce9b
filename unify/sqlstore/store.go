package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	"github.com/jmoiron/sqlx"
	_ "github.com/mattn/go-sqlite3" // registers "sqlite3"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"gateway/unify"
)

//go:embed migrations
var migrations embed.FS

// Dialect names the database engine.
type Dialect string

// The supported engines.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Sealer protects content at rest. The store calls Seal before writing a
// message body or an inbound text and Open after reading one; KeyID is kept
// beside each row so keys can be rotated.
type Sealer interface {
	Seal(plain []byte) (keyID string, sealed []byte, err error)
	Open(keyID string, sealed []byte) ([]byte, error)
}

// PlainSealer stores content as it is (encryption off).
type PlainSealer struct{}

// Seal returns plain unchanged.
func (PlainSealer) Seal(plain []byte) (string, []byte, error) { return "", plain, nil }

// Open returns sealed unchanged; it refuses rows sealed under a key.
func (PlainSealer) Open(keyID string, sealed []byte) ([]byte, error) {
	if keyID != "" {
		return nil, fmt.Errorf("sqlstore: content sealed with key %q but encryption is off", keyID)
	}
	return sealed, nil
}

// Options tune a Store.
type Options struct {
	Sealer Sealer // default PlainSealer
	// ReadConns is the size of the read pool (SQLite) or of the whole pool
	// (PostgreSQL). Default 4 and 16.
	ReadConns int
}

// Store is the SQL store. Writes go through one connection on SQLite (it has
// one writer anyway; a single connection avoids SQLITE_BUSY between our own
// goroutines) and through the pool on PostgreSQL.
type Store struct {
	dialect Dialect
	w       *sqlx.DB // writes (and reads inside transactions)
	r       *sqlx.DB // reads outside transactions
	sealer  Sealer
	batch   *batcher      // group commit (SQLite); nil runs each transaction alone
	ckpt    *checkpointer // background WAL checkpoints (SQLite)
	// noOrphans: the orphan receipts table was found empty and nothing was
	// added since. SQLite only, where this process is the one writer; every
	// send asks (HasOrphanReceipts), and there almost never are any.
	noOrphans atomic.Bool
	handoff   Handoff // see SetHandoff; nil: events wait to be claimed
	consented consentKeys
	writer    *writerConnector // SQLite: the writer's connection, for rawConn
}

// Open connects to dsn: "sqlite:PATH" (the directory is created) or
// "postgres://…". It does not migrate: call Migrate.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	if opts.Sealer == nil {
		opts.Sealer = PlainSealer{}
	}
	s := &Store{sealer: opts.Sealer}
	var ckptDSN string // the checkpointer's connection (SQLite)
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		path := strings.TrimPrefix(dsn, "sqlite:")
		path = strings.TrimPrefix(path, "//")
		if path == "" {
			return nil, errors.New("sqlstore: empty sqlite path")
		}
		if dir := filepath.Dir(path); dir != "." {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, fmt.Errorf("sqlstore: %w", err)
			}
		}
		// synchronous=NORMAL in WAL mode survives a crash of the process (the
		// promise behind a 202 is kill -9, not a power cut) at a fraction of
		// FULL's cost. _txlock=immediate takes the write lock at BEGIN, so a
		// transaction never fails half-way on a lock upgrade.
		// _secure_delete overwrites what retention and erasure delete, so
		// that purged content does not linger in free pages of the file.
		q := "?_journal_mode=WAL&_synchronous=NORMAL&_busy_timeout=10000&_foreign_keys=on&_txlock=immediate&_stmt_cache_size=128&_secure_delete=on"
		s.writer = &writerConnector{dsn: "file:" + path + q}
		w := sqlx.NewDb(sql.OpenDB(s.writer), "sqlite3")
		w.SetMaxOpenConns(1)
		w.SetConnMaxLifetime(0)
		w.SetMaxIdleConns(1)
		// Checkpoints are the checkpointer's and the batcher's (see
		// checkpoint.go); SQLite's own, in the commit that fills the WAL to
		// this many pages, is a safety net. Should the connection be
		// reopened, its default (1,000) applies, which is only slower.
		if _, err := w.ExecContext(ctx, fmt.Sprintf(`PRAGMA wal_autocheckpoint = %d`, writerCheckpointPages)); err != nil {
			_ = w.Close()
			return nil, fmt.Errorf("sqlstore: %w", err)
		}
		ckptDSN = "file:" + path + "?_journal_mode=WAL&_synchronous=NORMAL&_busy_timeout=10000"
		r, err := sqlx.Open("sqlite3", "file:"+path+"?_journal_mode=WAL&_busy_timeout=10000&_foreign_keys=on&mode=ro&_stmt_cache_size=64")
		if err != nil {
			_ = w.Close()
			return nil, fmt.Errorf("sqlstore: %w", err)
		}
		n := opts.ReadConns
		if n <= 0 {
			n = 4
		}
		r.SetMaxOpenConns(n)
		r.SetMaxIdleConns(n)
		s.dialect, s.w, s.r = SQLite, w, r
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		db, err := sqlx.Open("pgx", dsn)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: %w", err)
		}
		n := opts.ReadConns
		if n <= 0 {
			n = 16
		}
		db.SetMaxOpenConns(n)
		db.SetMaxIdleConns(n)
		db = sqlx.NewDb(db.DB, "postgres") // Rebind to $n
		s.dialect, s.w, s.r = Postgres, db, db
	default:
		return nil, fmt.Errorf("sqlstore: unsupported database %q (want sqlite:PATH or postgres://…)", redact(dsn))
	}
	if err := s.w.PingContext(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("sqlstore: connect: %w", err)
	}
	if s.dialect == SQLite {
		c, err := sqlx.Open("sqlite3", ckptDSN)
		if err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("sqlstore: %w", err)
		}
		c.SetMaxOpenConns(1)
		s.ckpt = startCheckpointer(c)
		s.batch = newBatcher(s)
	}
	return s, nil
}

// soleWriter reports whether this process is the database's one writer:
// on SQLite it is (the wiring takes over the file's leases at start), so
// what the store knows in memory of what it wrote (the new messages'
// event keys, the numbers with a consent record, the sends held as jobs
// in memory, the absence of orphan receipts) cannot be made stale by
// another writer. On PostgreSQL other instances write too.
func (s *Store) soleWriter() bool { return s.dialect == SQLite }

// handoffs returns the taker of events handed over at commit: nil without
// one, or when another writer could store events of the same keys
// meanwhile (see SetHandoff).
func (s *Store) handoffs() Handoff {
	if !s.soleWriter() {
		return nil
	}
	return s.handoff
}

// redact hides a password in a DSN before it reaches an error message.
func redact(dsn string) string {
	if i := strings.Index(dsn, "@"); i >= 0 {
		if j := strings.Index(dsn, "://"); j >= 0 && j < i {
			return dsn[:j+3] + "…" + dsn[i:]
		}
	}
	return dsn
}

// Dialect reports the engine in use.
func (s *Store) Dialect() Dialect { return s.dialect }

// Close closes the pools.
func (s *Store) Close() error {
	if s.batch != nil {
		s.batch.close()
	}
	var err error
	if s.ckpt != nil {
		err = s.ckpt.close()
	}
	// Readers first: the last connection to close checkpoints the WAL into
	// the file and deletes it, which the read-only readers cannot do. Left
	// behind, the WAL would keep old versions of rows that retention or an
	// erasure removed.
	if s.r != s.w {
		err = errors.Join(err, s.r.Close())
	}
	return errors.Join(err, s.w.Close())
}

// Ping checks that the database answers (readiness).
func (s *Store) Ping(ctx context.Context) error { return s.w.PingContext(ctx) }

// Migrate applies the embedded migrations of the store's dialect.
func (s *Store) Migrate(ctx context.Context) error { return s.migrateTo(ctx, 0) }

// migrateTo applies the migrations up to version, or all of them when
// version is 0 (tests migrate part way to check how later ones treat rows).
func (s *Store) migrateTo(ctx context.Context, version int64) error {
	sub, err := fs.Sub(migrations, "migrations/"+string(s.dialect))
	if err != nil {
		return fmt.Errorf("sqlstore: %w", err)
	}
	gd := goose.DialectSQLite3
	var opts []goose.ProviderOption
	if s.dialect == Postgres {
		gd = goose.DialectPostgres
		// Several instances starting together would each apply the same
		// migration. A session advisory lock, per schema (schemas of one
		// database share lock ids), makes them take turns.
		var schema string
		if err := s.w.GetContext(ctx, &schema, `SELECT COALESCE(current_schema(), '')`); err != nil {
			return classify(fmt.Errorf("sqlstore: migrate: %w", err))
		}
		h := fnv.New64a()
		h.Write([]byte("gateway/sqlstore migrate " + schema))
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(int64(h.Sum64())), lock.WithLockTimeout(1, 600))
		if err != nil {
			return fmt.Errorf("sqlstore: migrate: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(gd, s.w.DB, sub, opts...)
	if err != nil {
		return fmt.Errorf("sqlstore: migrations: %w", err)
	}
	if version == 0 {
		_, err = p.Up(ctx)
	} else {
		_, err = p.UpTo(ctx, version)
	}
	if err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	return nil
}

// Tx is one transaction. Its methods are the only way the core changes state,
// so that a state change and the jobs and events it causes commit together.
type Tx struct {
	tx  *sqlx.Tx
	s   *Store
	ctx context.Context
	// handed: events reserved by the handoff, to be handed over at commit;
	// queued: events were stored for a claim to find.
	handed []unify.OutboxEvent
	queued bool
	// raw: the SQLite writer's connection, which this transaction holds;
	// its writes go to the driver directly (rawexec.go).
	raw *rawConn
}

// InTx runs fn in a transaction and commits it when fn returns nil; when it
// returns an error nothing fn did is kept. On SQLite fn may share its commit
// with other callers' work (see batch.go), so fn must not call InTx itself,
// and fn may run twice (once rolled back, because of another caller's
// failure): what it leaves outside the transaction must not depend on how
// many times it ran (reset collected results at its start).
func (s *Store) InTx(ctx context.Context, fn func(*Tx) error) error {
	if s.batch != nil {
		return s.batch.submit(ctx, fn)
	}
	return s.runTx(ctx, fn)
}

// brief prepares ctx for statements that take microseconds. On SQLite they
// cannot be waiting on another connection's lock (one writer; readers never
// wait), so a cancellable context buys nothing there but costs a goroutine
// per statement in the driver, and one per transaction in database/sql.
// Long reads (the UI's pages, erasure) keep their context.
func (s *Store) brief(ctx context.Context) (context.Context, error) {
	if s.dialect != SQLite {
		return ctx, nil
	}
	if err := ctx.Err(); err != nil {
		return ctx, err
	}
	return context.WithoutCancel(ctx), nil
}

// exec runs one write statement as its own unit of work.
func (s *Store) exec(ctx context.Context, q string, args ...any) error {
	return s.InTx(ctx, func(t *Tx) error {
		_, err := t.exec(q, args...)
		return err
	})
}

func (s *Store) runTx(ctx context.Context, fn func(*Tx) error) error {
	ctx, err := s.brief(ctx)
	if err != nil {
		return err
	}
	tx, err := s.w.BeginTxx(ctx, nil)
	if err != nil {
		return classify(fmt.Errorf("sqlstore: begin: %w", err))
	}
	t := &Tx{tx: tx, s: s, ctx: ctx}
	if s.writer != nil {
		t.raw = s.writer.conn.Load()
	}
	if err := fn(t); err != nil {
		_ = tx.Rollback()
		t.abandon()
		return err
	}
	if err := tx.Commit(); err != nil {
		t.abandon()
		return classify(fmt.Errorf("sqlstore: commit: %w", err))
	}
	if s.ckpt != nil {
		s.ckpt.committed()
	}
	if len(t.handed) > 0 {
		s.handoff.Committed(t.handed)
	}
	if t.queued && s.handoff != nil {
		s.handoff.Wake()
	}
	return nil
}

func (t *Tx) abandon() {
	if len(t.handed) > 0 {
		t.s.handoff.Abandoned(t.handed)
	}
}

// classify turns errors that mean "the database cannot take writes right now"
// (disk full, locked, gone) into unify's unavailable code, so the API answers
// 503 and callers retry instead of treating it as a bug.
func classify(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, s := range []string{"database or disk is full", "disk I/O error", "database is locked", "connection refused", "bad connection", "too many clients"} {
		if strings.Contains(msg, s) {
			return &unify.Error{Code: unify.CodeUnavailable, Message: "the store cannot take writes right now", Err: err}
		}
	}
	return err
}

// Context is the context the transaction runs under.
func (t *Tx) Context() context.Context { return t.ctx }

func (t *Tx) exec(q string, args ...any) (sql.Result, error) {
	// Only with a context that cannot end: database/sql then has nothing
	// to roll back behind the statement's back.
	if t.raw != nil && t.ctx.Done() == nil {
		if res, ok, err := t.raw.exec(t.ctx, q, args); ok {
			return res, classify(err)
		}
	}
	res, err := t.tx.ExecContext(t.ctx, t.tx.Rebind(q), args...)
	return res, classify(err)
}

// execRows runs a write statement and returns how many rows it changed,
// for a caller that must know: not knowing is an error.
func (t *Tx) execRows(q string, args ...any) (int64, error) {
	res, err := t.exec(q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (t *Tx) get(dst any, q string, args ...any) error {
	return t.tx.GetContext(t.ctx, dst, t.tx.Rebind(q), args...)
}

func (t *Tx) sel(dst any, q string, args ...any) error {
	return t.tx.SelectContext(t.ctx, dst, t.tx.Rebind(q), args...)
}

// forUpdate is appended to reads that a transaction goes on to change, so
// that two PostgreSQL instances serialize on the row (SQLite has one writer).
func (t *Tx) forUpdate() string {
	if t.s.dialect == Postgres {
		return " FOR UPDATE"
	}
	return ""
}

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}
