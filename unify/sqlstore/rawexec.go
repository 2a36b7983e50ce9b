package sqlstore

import (
	"context"
	"database/sql/driver"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mattn/go-sqlite3"
)

// The SQLite writer's statements, prepared once and called on the driver
// itself. Through database/sql each write cost a slice of converted
// arguments, database/sql's locking, and go-sqlite3's statement cache: a
// linear search for the statement, then a reset when it goes back, on top
// of the reset before binding (a cgo call each). About 0.7 µs of a 3 µs
// statement in a micro-benchmark, and nine statements a message under
// make bench (docs/BENCHMARKS.md).
//
// database/sql gives no access to the connection a transaction holds, so
// the writer's connector remembers the one connection it opened (the
// writer pool has one): a write inside a transaction runs on it directly.
// Only the writer's transaction goroutine uses it meanwhile, and reads in
// the same transaction still go through database/sql, on the same
// connection, one after the other. The statements are finalized as the
// connection closes: SQLite keeps a connection with live statements open,
// and only the last connection to close checkpoints the WAL and deletes
// it (with the old versions of erased rows in it).

// maxRawStatements bounds the statements kept prepared; statements built
// with varying text past it go through database/sql.
const maxRawStatements = 256

// writerConnector opens the SQLite writer's connection for database/sql and
// keeps it for the transactions that hold it (rawConn).
type writerConnector struct {
	dsn  string
	drv  sqlite3.SQLiteDriver
	conn atomic.Pointer[rawConn]
}

func (wc *writerConnector) Connect(context.Context) (driver.Conn, error) {
	c, err := wc.drv.Open(wc.dsn)
	if err != nil {
		return nil, err
	}
	// A connection opened again (database/sql dropped a bad one) starts
	// with statements of its own.
	rc := &rawConn{c: c.(*sqlite3.SQLiteConn), stmts: make(map[string]*sqlite3.SQLiteStmt)}
	wc.conn.Store(rc)
	return &writerConn{SQLiteConn: rc.c, raw: rc, wc: wc}, nil
}

func (wc *writerConnector) Driver() driver.Driver { return &wc.drv }

// writerConn is go-sqlite3's connection (every interface database/sql looks
// for comes with the embedding) that finalizes the raw statements before it
// closes.
type writerConn struct {
	*sqlite3.SQLiteConn
	raw *rawConn
	wc  *writerConnector
}

func (c *writerConn) Close() error {
	c.wc.conn.CompareAndSwap(c.raw, nil)
	for q, st := range c.raw.stmts {
		_ = st.Close()
		delete(c.raw.stmts, q)
	}
	return c.SQLiteConn.Close()
}

// rawConn is the writer's connection with its prepared statements. Only
// the goroutine holding the writer's transaction touches it.
type rawConn struct {
	c     *sqlite3.SQLiteConn
	stmts map[string]*sqlite3.SQLiteStmt
	args  []driver.NamedValue // reused: one statement runs at a time
}

// exec runs q on the connection; ok false when q is not for the raw path
// (several statements in one string, or the statements kept are too many).
func (rc *rawConn) exec(ctx context.Context, q string, args []any) (res driver.Result, ok bool, err error) {
	st := rc.stmts[q]
	if st == nil {
		// go-sqlite3 runs only the first of several statements it prepares.
		if len(rc.stmts) >= maxRawStatements || strings.Contains(q, ";") {
			return nil, false, nil
		}
		ds, err := rc.c.Prepare(q)
		if err != nil {
			return nil, true, err
		}
		st = ds.(*sqlite3.SQLiteStmt)
		rc.stmts[q] = st
	}
	nv := rc.args[:0]
	for i, a := range args {
		v, err := driverValue(a)
		if err != nil {
			return nil, true, err
		}
		nv = append(nv, driver.NamedValue{Ordinal: i + 1, Value: v})
	}
	rc.args = nv
	res, err = st.ExecContext(ctx, nv)
	clear(nv) // keep no argument alive until the next statement
	return res, true, err
}

// driverValue converts an argument as database/sql would: the store's
// arguments are almost all of the first kinds; named string types (statuses,
// ids) and driver.Valuers take the general way.
func driverValue(v any) (driver.Value, error) {
	switch x := v.(type) {
	case nil, string, int64, []byte, bool, float64, time.Time:
		return x, nil
	case int:
		return int64(x), nil
	}
	return driver.DefaultParameterConverter.ConvertValue(v)
}
