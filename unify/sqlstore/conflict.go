package sqlstore

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/mattn/go-sqlite3"
)

// isUniqueViolation reports whether err is a unique or primary key
// violation. On SQLite the single writer means a transaction that checked
// for a row never meets it at insert time; on PostgreSQL two instances can
// both check, and the second insert waits for the first commit and fails.
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505" // unique_violation
	}
	var se sqlite3.Error
	if errors.As(err, &se) {
		return se.ExtendedCode == sqlite3.ErrConstraintUnique || se.ExtendedCode == sqlite3.ErrConstraintPrimaryKey
	}
	return false
}
