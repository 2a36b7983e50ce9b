package sqlstore_test

// The conformance suite: every test runs once per engine, on SQLite in a
// temporary directory and on PostgreSQL in a fresh schema of the database
// GATEWAY_TEST_POSTGRES names. CI must run both halves: there a missing DSN
// fails the PostgreSQL half instead of skipping it.

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"

	"gateway/internal/testenv"
	"gateway/unify"
	"gateway/unify/sqlstore"
)

// postgresEnv names the DSN of a PostgreSQL database the tests may create
// schemas in, e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable.
const postgresEnv = "GATEWAY_TEST_POSTGRES"

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

type engine struct {
	name string
	open func(tb testing.TB) *sqlstore.Store
}

var engines = []engine{
	{name: "sqlite", open: openSQLite},
	{name: "postgres", open: openPostgres},
}

// forEachEngine runs fn once per engine, in parallel, each on a fresh store.
func forEachEngine(t *testing.T, fn func(t *testing.T, e engine, s *sqlstore.Store)) {
	t.Helper()
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			fn(t, e, e.open(t))
		})
	}
}

func openSQLite(tb testing.TB) *sqlstore.Store {
	tb.Helper()
	return openMigrated(tb, "sqlite:"+filepath.Join(tb.TempDir(), "gw.db"), sqlstore.Options{Sealer: xorSealer{}})
}

func openMigrated(tb testing.TB, dsn string, opts sqlstore.Options) *sqlstore.Store {
	tb.Helper()
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, dsn, opts)
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = s.Close() })
	require.NoError(tb, s.Migrate(ctx))
	return s
}

// postgresDSN returns the test database's DSN, or skips the test (fails it
// under CI) when there is none.
func postgresDSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv(postgresEnv)
	if dsn != "" {
		return dsn
	}
	testenv.Missing(tb, "%s is not set: `make test` starts a throw-away PostgreSQL when initdb is installed "+
		"(apt-get install postgresql), or point it at a database the tests may create schemas in", postgresEnv)
	return ""
}

func postgresAdmin(tb testing.TB) *sql.DB {
	tb.Helper()
	db, err := sql.Open("pgx", postgresDSN(tb))
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = db.Close() })
	return db
}

// freshSchema creates an empty schema, dropped when the test ends, and
// returns the DSN that works in it.
func freshSchema(tb testing.TB) string {
	tb.Helper()
	dsn := postgresDSN(tb)
	db := postgresAdmin(tb)
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "test_" + hex.EncodeToString(b[:])
	_, err := db.Exec(`CREATE SCHEMA ` + schema)
	require.NoError(tb, err)
	tb.Cleanup(func() { _, _ = db.Exec(`DROP SCHEMA ` + schema + ` CASCADE`) })
	u, err := url.Parse(dsn)
	require.NoError(tb, err)
	q := u.Query()
	q.Set("search_path", schema) // a run-time parameter of the session
	u.RawQuery = q.Encode()
	return u.String()
}

func openPostgres(tb testing.TB) *sqlstore.Store {
	tb.Helper()
	return openMigrated(tb, freshSchema(tb), sqlstore.Options{Sealer: xorSealer{}})
}

// xorSealer "seals" by flipping every bit, which turns any text into bytes
// that are not UTF-8 and starts with a NUL: content columns must be binary
// (BLOB, BYTEA), never text.
type xorSealer struct{}

func (xorSealer) Seal(plain []byte) (string, []byte, error) {
	out := make([]byte, len(plain)+1)
	for i, b := range plain {
		out[i+1] = ^b
	}
	return "xor", out, nil
}

func (xorSealer) Open(keyID string, sealed []byte) ([]byte, error) {
	if keyID != "xor" || len(sealed) == 0 || sealed[0] != 0 {
		return nil, fmt.Errorf("xor: not sealed by me (key %q)", keyID)
	}
	out := make([]byte, len(sealed)-1)
	for i, b := range sealed[1:] {
		out[i] = ^b
	}
	return out, nil
}

func inTx(tb testing.TB, s *sqlstore.Store, fn func(tx *sqlstore.Tx) error) {
	tb.Helper()
	require.NoError(tb, s.InTx(context.Background(), fn))
}

func newMessage(id string, at time.Time) *unify.Message {
	return &unify.Message{
		ID: unify.MessageID(id), To: "+33612345678", From: "acme", Policy: "default",
		ConversationID: "thread-1", ClientRef: "ref-" + id, Dialect: "unified",
		Content: unify.Content{Text: "Héllo 👋"}, Status: unify.StatusAccepted,
		CreatedAt: at, UpdatedAt: at,
	}
}

func insertMessages(tb testing.TB, s *sqlstore.Store, ms ...*unify.Message) {
	tb.Helper()
	inTx(tb, s, func(tx *sqlstore.Tx) error {
		for _, m := range ms {
			if err := tx.InsertMessage(m); err != nil {
				return err
			}
		}
		return nil
	})
}

func TestOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name, dsn, want string
	}{
		{"unsupported", "mysql://u:p@h/db", "unsupported database"},
		{"password redacted", "mysql://user:hunter2@host/db", "mysql://…@host/db"},
		{"empty sqlite path", "sqlite:", "empty sqlite path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := sqlstore.Open(ctx, tc.dsn, sqlstore.Options{})
			require.ErrorContains(t, err, tc.want)
			require.NotContains(t, err.Error(), "hunter2")
		})
	}
}

func TestStoreBasics(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine, s *sqlstore.Store) {
		ctx := context.Background()
		require.Equal(t, sqlstore.Dialect(e.name), s.Dialect())
		require.NoError(t, s.Ping(ctx))
		require.NoError(t, s.Migrate(ctx), "migrating twice is a no-op")

		// A transaction that fails keeps nothing, and its context is the caller's.
		type key struct{}
		tctx := context.WithValue(ctx, key{}, "mine")
		boom := errors.New("boom")
		err := s.InTx(tctx, func(tx *sqlstore.Tx) error {
			require.Equal(t, "mine", tx.Context().Value(key{}))
			if err := tx.InsertMessage(newMessage("msg_rolled_back", t0)); err != nil {
				return err
			}
			return boom
		})
		require.ErrorIs(t, err, boom)
		_, err = s.Message(ctx, "msg_rolled_back")
		require.Equal(t, unify.CodeNotFound, unify.CodeOf(err))
	})
}

// TestConcurrentMigrate starts several instances on one empty database at
// once, as a deployment does: they must take turns, not fail.
func TestConcurrentMigrate(t *testing.T) {
	t.Parallel()
	dsn := freshSchema(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := sqlstore.Open(ctx, dsn, sqlstore.Options{ReadConns: 2})
			if err != nil {
				errs[i] = err
				return
			}
			defer s.Close()
			errs[i] = s.Migrate(ctx)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
}

func TestMessagesAndAttempts(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine, s *sqlstore.Store) {
		ctx := context.Background()
		m := newMessage("msg_1", t0)
		insertMessages(t, s, m)

		got, err := s.Message(ctx, m.ID)
		require.NoError(t, err)
		require.Equal(t, m.Content, got.Content, "content survives sealing to binary")
		require.Equal(t, m.CreatedAt, got.CreatedAt)
		require.Equal(t, unify.StatusAccepted, got.Status)
		require.Equal(t, "unified", got.Dialect)
		require.Empty(t, got.Attempts)

		a1 := &unify.Attempt{ID: "att_1", MessageID: m.ID, Step: 0, Channel: unify.ChannelSMS, Carrier: "sim-fr",
			Status: unify.StatusSent, Segments: 2, Parts: []unify.Part{
				{Seq: 0, Ref: unify.ExternalRef{ID: "00A1", Raw: "a1", Dec: "161"}, Status: unify.StatusSent},
				{Seq: 1, Ref: unify.ExternalRef{ID: "00A2", Raw: "a2", Dec: "162"}, Status: unify.StatusSent},
			}}
		a2 := &unify.Attempt{ID: "att_2", MessageID: m.ID, Step: 1, Channel: unify.ChannelSMS, Carrier: "sim-fr", Status: unify.StatusFailed, Error: "no route"}
		inTx(t, s, func(tx *sqlstore.Tx) error {
			if err := tx.InsertAttempt(a1, t0.Add(time.Second)); err != nil {
				return err
			}
			if err := tx.InsertAttempt(a2, t0.Add(2*time.Second)); err != nil {
				return err
			}
			cur, err := tx.Message(m.ID)
			if err != nil {
				return err
			}
			cur.Status, cur.Channel, cur.Carrier, cur.Error = unify.StatusSent, unify.ChannelSMS, "sim-fr", "partly"
			return tx.UpdateMessage(cur, t0.Add(3*time.Second))
		})
		inTx(t, s, func(tx *sqlstore.Tx) error {
			a1.Status, a1.Error = unify.StatusDelivered, ""
			if err := tx.UpdateAttempt(a1, t0.Add(4*time.Second)); err != nil {
				return err
			}
			return tx.UpdatePart(a1.ID, 1, unify.StatusFailed, "err:013")
		})

		var state *unify.Message
		inTx(t, s, func(tx *sqlstore.Tx) error {
			var err error
			state, err = tx.MessageState(m.ID)
			return err
		})
		var head *unify.Message
		inTx(t, s, func(tx *sqlstore.Tx) error {
			var err error
			head, err = tx.MessageHead(m.ID)
			return err
		})
		require.Equal(t, state.Status, head.Status)
		require.Equal(t, state.Error, head.Error)
		require.Empty(t, head.Attempts, "MessageHead leaves the attempts unread")
		owner, err := s.MessageOfAttempt(ctx, a2.ID)
		require.NoError(t, err)
		require.Equal(t, m.ID, owner.ID)
		require.Len(t, owner.Attempts, 2)
		require.Zero(t, state.Content, "MessageState leaves the body unread")
		require.Equal(t, unify.StatusSent, state.Status)
		require.Equal(t, "partly", state.Error)
		require.Equal(t, t0.Add(3*time.Second), state.UpdatedAt)
		require.Len(t, state.Attempts, 2)
		att := state.Attempts[0]
		require.Equal(t, unify.AttemptID("att_1"), att.ID)
		require.Equal(t, unify.StatusDelivered, att.Status)
		require.Equal(t, 2, att.Segments)
		require.Equal(t, t0.Add(4*time.Second), att.At)
		require.Equal(t, []unify.Part{
			{Seq: 0, Ref: unify.ExternalRef{ID: "00A1", Raw: "a1", Dec: "161"}, Status: unify.StatusSent},
			{Seq: 1, Ref: unify.ExternalRef{ID: "00A2", Raw: "a2", Dec: "162"}, Status: unify.StatusFailed},
		}, att.Parts)
		require.Equal(t, "no route", state.Attempts[1].Error)

		// What a receipt reads: the attempt with its parts, the message's
		// head, and whether a newer attempt took over.
		a3 := &unify.Attempt{ID: "att_3", MessageID: m.ID, Step: 2, Channel: unify.ChannelSMS, Carrier: "sim-fr",
			Status: unify.StatusSent, Segments: 1, Parts: []unify.Part{{Seq: 0, Ref: unify.ExternalRef{ID: "b1", Raw: "b1"}, Status: unify.StatusSent}}}
		inTx(t, s, func(tx *sqlstore.Tx) error { return tx.InsertAttempt(a3, t0.Add(5*time.Second)) })
		for _, tc := range []struct {
			id     unify.AttemptID
			newest bool
			parts  []unify.Status
		}{
			{"att_1", false, []unify.Status{unify.StatusSent, unify.StatusFailed}},
			{"att_3", true, []unify.Status{unify.StatusSent}},
		} {
			var (
				head   *unify.Message
				a      *unify.Attempt
				newest bool
			)
			inTx(t, s, func(tx *sqlstore.Tx) error {
				var err error
				head, a, newest, err = tx.AttemptState(m.ID, tc.id)
				return err
			})
			require.Equal(t, tc.newest, newest, tc.id)
			require.Equal(t, m.ID, head.ID)
			require.Equal(t, "partly", head.Error)
			require.Equal(t, tc.id, a.ID)
			var got []unify.Status
			for i, p := range a.Parts {
				require.Equal(t, i, p.Seq)
				got = append(got, p.Status)
			}
			require.Equal(t, tc.parts, got)
		}
		require.Equal(t, unify.CodeNotFound, unify.CodeOf(s.InTx(ctx, func(tx *sqlstore.Tx) error {
			_, _, _, err := tx.AttemptState(m.ID, "att_9")
			return err
		})))

		for _, read := range []struct {
			name string
			fn   func() error
		}{
			{"Store.Message", func() error { _, err := s.Message(ctx, "msg_none"); return err }},
			{"Tx.Message", func() error {
				return s.InTx(ctx, func(tx *sqlstore.Tx) error { _, err := tx.Message("msg_none"); return err })
			}},
			{"Tx.MessageState", func() error {
				return s.InTx(ctx, func(tx *sqlstore.Tx) error { _, err := tx.MessageState("msg_none"); return err })
			}},
			{"Tx.MessageHead", func() error {
				return s.InTx(ctx, func(tx *sqlstore.Tx) error { _, err := tx.MessageHead("msg_none"); return err })
			}},
			{"MessageOfAttempt", func() error { _, err := s.MessageOfAttempt(ctx, "att_none"); return err }},
		} {
			require.Equal(t, unify.CodeNotFound, unify.CodeOf(read.fn()), read.name)
		}
	})
}

// TestMessageLock checks that a transaction that read a message holds it
// until it commits: a receipt, a timeout and a send handled by different
// instances at once are applied one after the other, each seeing what the
// one before wrote (PostgreSQL: SELECT … FOR UPDATE; SQLite: one writer).
func TestMessageLock(t *testing.T) {
	t.Parallel()
	for _, read := range []struct {
		name string
		fn   func(tx *sqlstore.Tx, id unify.MessageID) (*unify.Message, error)
	}{
		{"Message", (*sqlstore.Tx).Message},
		{"MessageState", (*sqlstore.Tx).MessageState},
	} {
		t.Run(read.name, func(t *testing.T) {
			t.Parallel()
			forEachEngine(t, func(t *testing.T, e engine, s *sqlstore.Store) {
				ctx := context.Background()
				m := newMessage("msg_locked", t0)
				insertMessages(t, s, m)

				locked, release := make(chan struct{}), make(chan struct{})
				// However the test ends, the first transaction must end too, or
				// closing the store would wait for it forever.
				releaseOnce := sync.OnceFunc(func() { close(release) })
				t.Cleanup(releaseOnce)
				// InTx may run a unit twice (SQLite's group commit): what the
				// units signal out of it is idempotent.
				lockedOnce := sync.OnceFunc(func() { close(locked) })
				first := make(chan error, 1)
				go func() {
					first <- s.InTx(ctx, func(tx *sqlstore.Tx) error {
						cur, err := read.fn(tx, m.ID)
						if err != nil {
							return err
						}
						lockedOnce()
						<-release
						cur.Status, cur.Error = unify.StatusDelivered, "receipt"
						return tx.UpdateMessage(cur, t0.Add(time.Second))
					})
				}()
				<-locked
				var seen atomic.Pointer[unify.Message]
				read2 := make(chan struct{})
				readOnce := sync.OnceFunc(func() { close(read2) })
				second := make(chan error, 1)
				go func() {
					second <- s.InTx(ctx, func(tx *sqlstore.Tx) error {
						cur, err := read.fn(tx, m.ID)
						if err != nil {
							return err
						}
						seen.Store(cur)
						readOnce()
						cur.Error += "+timeout"
						return tx.UpdateMessage(cur, t0.Add(2*time.Second))
					})
				}()
				if e.name == "postgres" {
					// A second reader that does not wait for the first's lock
					// reads at once; give it the time to.
					select {
					case <-read2:
						t.Fatal("the second transaction read the message while the first held it")
					case <-time.After(200 * time.Millisecond):
					}
				}
				releaseOnce()
				require.NoError(t, <-first)
				require.NoError(t, <-second)
				require.Equal(t, unify.StatusDelivered, seen.Load().Status, "the second transaction saw the first's write")
				final, err := s.Message(ctx, m.ID)
				require.NoError(t, err)
				require.Equal(t, "receipt+timeout", final.Error, "no update lost")
			})
		})
	}
}

// form builds the forms of a carrier id the way the SMS channel does: lower
// case without leading zeros, and the value read as decimal and as
// hexadecimal, each in canonical decimal ("" when it does not parse).
func form(id string) unify.ExternalRef {
	r := unify.ExternalRef{ID: id, Raw: strings.ToLower(strings.TrimLeft(id, "0"))}
	if v, ok := new(big.Int).SetString(r.Raw, 10); ok {
		r.Dec = v.String()
	}
	if v, ok := new(big.Int).SetString(r.Raw, 16); ok {
		r.Hex = v.String()
	}
	return r
}

func TestFindPart(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine, s *sqlstore.Store) {
		// att_old and att_new carry the same SMSC id (SMSCs recycle ids).
		parts := []struct {
			msg, att string
			at       time.Time
			id       string
		}{
			{"msg_old", "att_old", t0, "7777"},
			{"msg_new", "att_new", t0.Add(time.Hour), "7777"},
			{"msg_dec", "att_dec", t0, "4660"},   // hexadecimal 1234
			{"msg_hex", "att_hex", t0, "00FF10"}, // decimal 65296
			{"msg_exact", "att_exact", t0, "1234"},
			{"msg_long", "att_long", t0, "0ABCDEF0123456789ABCDEF"}, // beyond 64 bits
		}
		for _, p := range parts {
			insertMessages(t, s, newMessage(p.msg, p.at))
			inTx(t, s, func(tx *sqlstore.Tx) error {
				return tx.InsertAttempt(&unify.Attempt{ID: unify.AttemptID(p.att), MessageID: unify.MessageID(p.msg),
					Channel: unify.ChannelSMS, Carrier: "sim-fr", Status: unify.StatusSent, Segments: 1,
					Parts: []unify.Part{{Seq: 0, Ref: form(p.id), Status: unify.StatusSent}}}, p.at)
			})
		}
		for _, tc := range []struct {
			name    string
			carrier string
			receipt string
			want    string // attempt id, "" for no match
		}{
			{"exact", "sim-fr", "4660", "att_dec"},
			{"leading zeros and case", "sim-fr", "0000ff10", "att_hex"},
			{"recycled id: the newest wins", "sim-fr", "7777", "att_new"},
			{"an exact match beats a numeric one", "sim-fr", "1234", "att_exact"},
			{"decimal receipt for a hexadecimal submit id", "sim-fr", "65296", "att_hex"},
			{"hexadecimal receipt for a decimal submit id", "sim-fr", "1E61", "att_new"}, // 0x1e61 = 7777
			{"decimal receipt beyond 64 bits", "sim-fr", "207698809136909011942886895", "att_long"},
			{"other carrier", "other", "4660", ""},
			{"unknown", "sim-fr", "999999", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				inTx(t, s, func(tx *sqlstore.Tx) error {
					pm, ok, err := tx.FindPart(tc.carrier, form(tc.receipt))
					if err != nil {
						return err
					}
					require.Equal(t, tc.want != "", ok)
					if ok {
						require.Equal(t, unify.AttemptID(tc.want), pm.AttemptID)
						require.Equal(t, unify.MessageID("msg"+strings.TrimPrefix(tc.want, "att")), pm.MessageID)
						require.Equal(t, 0, pm.Seq)
					}
					return nil
				})
			})
		}
	})
}

func TestOrphanReceipts(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine, s *sqlstore.Store) {
		inTx(t, s, func(tx *sqlstore.Tx) error {
			has, err := tx.HasOrphanReceipts()
			require.False(t, has)
			return err
		})
		receipt := func(carrier, id string, st unify.Status, at time.Duration) unify.Receipt {
			r := form(id)
			r.ID = "" // not kept
			return unify.Receipt{Carrier: carrier, Ref: r, Status: st, At: t0.Add(at)}
		}
		receipts := []unify.Receipt{
			receipt("sim-fr", "100", unify.StatusDelivered, 0),
			receipt("sim-fr", "64", unify.StatusFailed, time.Second),         // hexadecimal for 100
			receipt("sim-fr", "255", unify.StatusDelivered, 2*time.Second),   // decimal for ff
			receipt("other", "100", unify.StatusDelivered, 3*time.Second),    // another carrier's
			receipt("sim-fr", "12345", unify.StatusDelivered, 4*time.Second), // nobody's
		}
		receipts[1].Error = "013"
		inTx(t, s, func(tx *sqlstore.Tx) error {
			for _, r := range receipts {
				if err := tx.AddOrphanReceipt(r); err != nil {
					return err
				}
			}
			has, err := tx.HasOrphanReceipts()
			require.True(t, has)
			return err
		})
		for _, tc := range []struct {
			name    string
			carrier string
			part    string // the id the submit_sm_resp gave
			want    []unify.Receipt
		}{
			{"every form of the id", "sim-fr", "100", receipts[:2]},
			{"taken once", "sim-fr", "100", []unify.Receipt{}},
			{"decimal receipt for a hexadecimal id", "sim-fr", "FF", receipts[2:3]},
			{"by carrier", "other", "100", receipts[3:4]},
		} {
			inTx(t, s, func(tx *sqlstore.Tx) error {
				got, err := tx.TakeOrphanReceipts(tc.carrier, form(tc.part))
				require.Equal(t, tc.want, got, tc.name)
				return err
			})
		}
	})
}

// TestReceiptRacesItsPart runs a receipt and the send that stores its part
// at once, each order of commit: the receipt is never left behind as an
// orphan while its part exists. (On PostgreSQL the two would otherwise miss
// each other's uncommitted rows; the orphan lock orders them.)
func TestReceiptRacesItsPart(t *testing.T) {
	t.Parallel()
	for _, first := range []string{"send", "receipt"} {
		t.Run(first+" first", func(t *testing.T) {
			t.Parallel()
			forEachEngine(t, func(t *testing.T, e engine, s *sqlstore.Store) {
				ctx := context.Background()
				insertMessages(t, s, newMessage("msg_race", t0))
				receipt := unify.Receipt{Carrier: "sim-fr", Ref: form("4242"), Status: unify.StatusDelivered, At: t0}
				// InTx may run a unit twice (SQLite's group commit): the units
				// record their outcome by storing, not adding, and signal once.
				var took atomic.Int32
				send := func(hold <-chan struct{}, holding func()) error {
					return s.InTx(ctx, func(tx *sqlstore.Tx) error {
						took.Store(0)
						if err := tx.InsertAttempt(&unify.Attempt{ID: "att_race", MessageID: "msg_race", Channel: unify.ChannelSMS,
							Carrier: "sim-fr", Status: unify.StatusSent, Segments: 1,
							Parts: []unify.Part{{Seq: 0, Ref: form("4242"), Status: unify.StatusSent}}}, t0); err != nil {
							return err
						}
						has, err := tx.HasOrphanReceipts()
						if err != nil || !has {
							if holding != nil {
								holding()
								<-hold
							}
							return err
						}
						got, err := tx.TakeOrphanReceipts("sim-fr", form("4242"))
						took.Store(int32(len(got)))
						return err
					})
				}
				var matched atomic.Int32
				deliver := func(hold <-chan struct{}, holding func()) error {
					return s.InTx(ctx, func(tx *sqlstore.Tx) error {
						matched.Store(0)
						pm, found, err := tx.FindPart("sim-fr", receipt.Ref)
						if err != nil {
							return err
						}
						if found {
							if pm.AttemptID != "att_race" {
								return fmt.Errorf("matched %s", pm.AttemptID)
							}
							matched.Store(1)
							return nil
						}
						if err := tx.AddOrphanReceipt(receipt); err != nil {
							return err
						}
						if holding != nil {
							holding()
							<-hold
						}
						return nil
					})
				}
				a, b := send, deliver
				if first == "receipt" {
					a, b = deliver, send
				}
				hold, holding := make(chan struct{}), make(chan struct{})
				releaseOnce := sync.OnceFunc(func() { close(hold) })
				t.Cleanup(releaseOnce)
				errA := make(chan error, 1)
				go func() { errA <- a(hold, sync.OnceFunc(func() { close(holding) })) }()
				<-holding // a is past its check, not committed
				errB := make(chan error, 1)
				go func() { errB <- b(nil, nil) }()
				select {
				case err := <-errB:
					if e.name == "postgres" {
						t.Fatalf("the second transaction did not wait for the first: %v", err)
					}
				case <-time.After(200 * time.Millisecond):
				}
				releaseOnce()
				require.NoError(t, <-errA)
				err := <-errB
				if err != nil {
					// The carrier delivers a receipt refused this way again.
					require.Equal(t, unify.CodeUnavailable, unify.CodeOf(err), "%v", err)
					require.NoError(t, deliver(nil, nil))
				}
				require.Equal(t, int32(1), matched.Load()+took.Load(), "the receipt reached its part once")
				inTx(t, s, func(tx *sqlstore.Tx) error {
					has, err := tx.HasOrphanReceipts()
					require.False(t, has, "no orphan left behind")
					return err
				})
			})
		})
	}
}

// TestUnrelatedReceiptDoesNotWait: on PostgreSQL an orphan receipt waits
// only for the sends of parts it could match, not for every send.
func TestUnrelatedReceiptDoesNotWait(t *testing.T) {
	t.Parallel()
	s := openPostgres(t)
	ctx := context.Background()
	insertMessages(t, s, newMessage("msg_busy", t0))
	hold, holding := make(chan struct{}), make(chan struct{})
	releaseOnce := sync.OnceFunc(func() { close(hold) })
	t.Cleanup(releaseOnce)
	sent := make(chan error, 1)
	go func() {
		sent <- s.InTx(ctx, func(tx *sqlstore.Tx) error {
			err := tx.InsertAttempt(&unify.Attempt{ID: "att_busy", MessageID: "msg_busy", Channel: unify.ChannelSMS, Carrier: "sim-fr",
				Status: unify.StatusSent, Segments: 1, Parts: []unify.Part{{Seq: 0, Ref: form("1000"), Status: unify.StatusSent}}}, t0)
			close(holding)
			<-hold
			return err
		})
	}()
	<-holding
	for _, id := range []string{"2000", "3e8" /* 1000 in hexadecimal: a form of the part's id */} {
		done := make(chan error, 1)
		go func() {
			done <- s.InTx(ctx, func(tx *sqlstore.Tx) error {
				return tx.AddOrphanReceipt(unify.Receipt{Carrier: "sim-fr", Ref: form(id), Status: unify.StatusDelivered, At: t0})
			})
		}()
		select {
		case err := <-done:
			require.Equal(t, "2000", id, "a receipt that could match the part in flight must wait for it")
			require.NoError(t, err)
		case <-time.After(time.Second):
			require.Equal(t, "3e8", id, "an unrelated receipt waited for another part's send")
			releaseOnce()
			require.NoError(t, <-sent)
			err := <-done
			require.Equal(t, unify.CodeUnavailable, unify.CodeOf(err), "%v", err)
		}
	}
}

var allKinds = []sqlstore.JobKind{sqlstore.JobSend, sqlstore.JobTimeout, sqlstore.JobMOFlush}

func claim(tb testing.TB, s *sqlstore.Store, owner string, now time.Time, lease time.Duration, limit int, kinds ...sqlstore.JobKind) []sqlstore.Job {
	tb.Helper()
	if kinds == nil {
		kinds = allKinds
	}
	jobs, err := s.ClaimJobs(context.Background(), owner, kinds, now, now.Add(lease), limit)
	require.NoError(tb, err)
	slices.SortFunc(jobs, func(a, b sqlstore.Job) int { return strings.Compare(a.Ref, b.Ref) })
	return jobs
}

func refs(jobs []sqlstore.Job) []string {
	out := []string{}
	for _, j := range jobs {
		out = append(out, string(j.Kind)+":"+j.Ref)
	}
	return out
}

func TestJobs(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine, s *sqlstore.Store) {
		ctx := context.Background()
		insertMessages(t, s, newMessage("msg_a", t0), newMessage("msg_b", t0))
		inTx(t, s, func(tx *sqlstore.Tx) error {
			for _, j := range []struct {
				kind sqlstore.JobKind
				ref  string
				at   time.Time
			}{
				{sqlstore.JobSend, "msg_a", t0},
				{sqlstore.JobSend, "msg_b", t0.Add(time.Minute)}, // not due yet
				{sqlstore.JobTimeout, "att_1", t0.Add(-time.Second)},
				{sqlstore.JobMOFlush, "grp", t0.Add(time.Hour)},
			} {
				if err := tx.AddJob(j.kind, j.ref, j.at); err != nil {
					return err
				}
			}
			return nil
		})
		n, err := s.CountJobs(ctx, sqlstore.JobSend)
		require.NoError(t, err)
		require.Equal(t, 2, n)
		next, ok, err := s.NextJobAt(ctx, allKinds)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, t0.Add(-time.Second), next)

		// Kinds filter and due time.
		require.Equal(t, []string{"timeout:att_1"}, refs(claim(t, s, "w1", t0, time.Minute, 10, sqlstore.JobTimeout)))
		jobs := claim(t, s, "w1", t0, time.Minute, 10)
		require.Equal(t, []string{"send:msg_a"}, refs(jobs), "leased and future jobs are not claimed")
		require.Equal(t, 1, jobs[0].Tries)
		require.Equal(t, t0, jobs[0].RunAt)
		m, err := s.Message(ctx, "msg_a")
		require.NoError(t, err)
		require.Equal(t, unify.StatusSending, m.Status, "claiming a send shows progress")

		// Leased jobs: the next due time is the end of the lease.
		next, _, err = s.NextJobAt(ctx, []sqlstore.JobKind{sqlstore.JobTimeout})
		require.NoError(t, err)
		require.Equal(t, t0.Add(time.Minute), next)

		// Only the lease holder completes a job.
		inTx(t, s, func(tx *sqlstore.Tx) error { return tx.CompleteJob(jobs[0], "w2") })
		n, _ = s.CountJobs(ctx, sqlstore.JobSend)
		require.Equal(t, 2, n)

		// A lease that ran out is taken over, and counts a try.
		later := t0.Add(2 * time.Minute)
		taken := claim(t, s, "w2", later, time.Minute, 10, sqlstore.JobSend)
		require.Equal(t, []string{"send:msg_a", "send:msg_b"}, refs(taken))
		require.Equal(t, 2, taken[0].Tries)
		inTx(t, s, func(tx *sqlstore.Tx) error { return tx.CompleteJob(jobs[0], "w1") })
		n, _ = s.CountJobs(ctx, sqlstore.JobSend)
		require.Equal(t, 2, n, "the old holder cannot complete a job taken over")
		inTx(t, s, func(tx *sqlstore.Tx) error { return tx.CompleteJob(taken[0], "w2") })
		n, _ = s.CountJobs(ctx, sqlstore.JobSend)
		require.Equal(t, 1, n)

		// RetryJob releases the job to a later time and keeps the reason,
		// cut to 500 bytes without splitting a character.
		reason := "x" + strings.Repeat("é", 300) // 601 bytes: byte 500 is inside a character
		require.NoError(t, s.RetryJob(ctx, taken[1], "w2", later.Add(time.Minute), reason))
		require.Empty(t, claim(t, s, "w3", later, time.Minute, 10, sqlstore.JobSend))
		again := claim(t, s, "w3", later.Add(time.Minute), time.Minute, 10, sqlstore.JobSend)
		require.Equal(t, []string{"send:msg_b"}, refs(again))
		require.Equal(t, 2, again[0].Tries)
		require.NoError(t, s.RetryJob(ctx, again[0], "someone-else", later, "not mine"))
		require.Empty(t, claim(t, s, "w4", later.Add(90*time.Second), time.Minute, 10, sqlstore.JobSend), "a retry by a non-holder changes nothing")

		// AddJob on an existing (kind, ref) moves it and drops its lease.
		inTx(t, s, func(tx *sqlstore.Tx) error { return tx.AddJob(sqlstore.JobSend, "msg_b", later) })
		require.Equal(t, []string{"send:msg_b"}, refs(claim(t, s, "w4", later, time.Minute, 10, sqlstore.JobSend)))

		// RenewJobLeases extends the holder's leases only.
		require.NoError(t, s.RenewJobLeases(ctx, "w4", later.Add(10*time.Minute)))
		require.NoError(t, s.RenewJobLeases(ctx, "nobody", later))
		require.Empty(t, claim(t, s, "w5", later.Add(5*time.Minute), time.Minute, 10, sqlstore.JobSend), "a renewed lease holds")
		require.Equal(t, []string{"send:msg_b"}, refs(claim(t, s, "w5", later.Add(11*time.Minute), time.Minute, 10, sqlstore.JobSend)))
		inTx(t, s, func(tx *sqlstore.Tx) error { return tx.AddJob(sqlstore.JobSend, "msg_b", later) })

		// ReleaseLeases (one SQLite process starting) frees every lease.
		require.NoError(t, s.ReleaseLeases(ctx))
		require.Equal(t, []string{"send:msg_b"}, refs(claim(t, s, "w5", later, time.Minute, 10, sqlstore.JobSend)))

		// The limit, oldest first.
		inTx(t, s, func(tx *sqlstore.Tx) error {
			for i := range 5 {
				if err := tx.AddJob(sqlstore.JobMOFlush, fmt.Sprintf("g%d", i), t0.Add(-time.Duration(i)*time.Second)); err != nil {
					return err
				}
			}
			return tx.DeleteJob(sqlstore.JobMOFlush, "grp")
		})
		require.Equal(t, []string{"mo_flush:g3", "mo_flush:g4"}, refs(claim(t, s, "w6", t0, time.Minute, 2, sqlstore.JobMOFlush)))
		require.Empty(t, claim(t, s, "w6", t0, time.Minute, 0))
		n, _ = s.CountJobs(ctx, sqlstore.JobMOFlush)
		require.Equal(t, 5, n)

		_, ok, err = s.NextJobAt(ctx, []sqlstore.JobKind{"none"})
		require.NoError(t, err)
		require.False(t, ok)
	})
}

// TestClaimJobsConcurrently has workers of several "instances" claim from
// one queue at once: no job is ever handed out twice while leased.
func TestClaimJobsConcurrently(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine, s *sqlstore.Store) {
		const jobs, workers = 300, 8
		inTx(t, s, func(tx *sqlstore.Tx) error {
			for i := range jobs {
				if err := tx.AddJob(sqlstore.JobTimeout, fmt.Sprintf("att_%03d", i), t0); err != nil {
					return err
				}
			}
			return nil
		})
		var mu sync.Mutex
		got := map[string]string{}
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				owner := fmt.Sprintf("w%d", w)
				for {
					js, err := s.ClaimJobs(context.Background(), owner, allKinds, t0, t0.Add(time.Hour), 7)
					if err != nil {
						t.Error(err)
						return
					}
					if len(js) == 0 {
						return
					}
					mu.Lock()
					for _, j := range js {
						if prev, dup := got[j.Ref]; dup {
							t.Errorf("%s claimed by %s and %s", j.Ref, prev, owner)
						}
						got[j.Ref] = owner
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		require.Len(t, got, jobs)
	})
}

func addEvents(tb testing.TB, s *sqlstore.Store, evs ...unify.OutboxEvent) {
	tb.Helper()
	inTx(tb, s, func(tx *sqlstore.Tx) error {
		for _, e := range evs {
			if err := tx.AddEvent(e, unify.MessageID(e.Key)); err != nil {
				return err
			}
		}
		return nil
	})
}

func eventIDs(evs []unify.OutboxEvent) []string {
	out := []string{}
	for _, e := range evs {
		out = append(out, e.ID)
	}
	slices.Sort(out)
	return out
}

func TestEvents(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine, s *sqlstore.Store) {
		ctx := context.Background()
		ev := func(id, key string, at time.Time) unify.OutboxEvent {
			return unify.OutboxEvent{ID: id, Key: key, Type: unify.EventStatus, Dialect: "unified",
				Body: []byte(`{"id":"` + id + `","text":"é"}`), CreatedAt: at}
		}
		addEvents(t, s, ev("a1", "msg_a", t0), ev("b1", "msg_b", t0), ev("a2", "msg_a", t0.Add(time.Second)), ev("c1", "msg_c", t0))
		pending, err := s.PendingEvents(ctx)
		require.NoError(t, err)
		require.Equal(t, 4, pending)

		claimEv := func(owner string, now time.Time, limit int) []unify.OutboxEvent {
			evs, err := s.ClaimEvents(ctx, owner, now, now.Add(time.Minute), limit)
			require.NoError(t, err)
			return evs
		}
		// One event per key, oldest first; the limit holds.
		first := claimEv("i1", t0.Add(time.Second), 2)
		require.Equal(t, []string{"a1", "b1"}, eventIDs(first))
		for _, e := range first {
			require.Equal(t, `{"id":"`+e.ID+`","text":"é"}`, string(e.Body))
			require.Equal(t, "unified", e.Dialect)
			require.Equal(t, unify.EventStatus, e.Type)
		}
		// a2 waits while a1 is leased, even for another instance.
		require.Equal(t, []string{"c1"}, eventIDs(claimEv("i2", t0.Add(time.Second), 10)))
		require.Empty(t, claimEv("i2", t0.Add(time.Second), 10))

		// Recorded by their seq, as the dispatcher does.
		require.NoError(t, s.EventsDelivered(ctx, t0.Add(2*time.Second), first[0].Seq))
		require.NoError(t, s.EventFailed(ctx, first[1].Seq, "503 from back end", t0.Add(time.Hour)))
		require.Equal(t, []string{"a2"}, eventIDs(claimEv("i2", t0.Add(2*time.Second), 10)), "the next of a key after delivery; b1 backs off")

		// Leases run out: a2 and c1 (never answered) go to another instance.
		require.Equal(t, []string{"a2", "c1"}, eventIDs(claimEv("i3", t0.Add(2*time.Minute), 10)))
		retried := claimEv("i3", t0.Add(2*time.Hour), 10)
		require.Equal(t, []string{"a2", "b1", "c1"}, eventIDs(retried))
		for _, e := range retried {
			if e.ID == "b1" {
				require.Equal(t, 1, e.Attempts)
			}
		}

		recs, err := s.MessageEvents(ctx, "msg_a")
		require.NoError(t, err)
		require.Len(t, recs, 2)
		require.Equal(t, "a1", recs[0].ID)
		require.Equal(t, t0.Add(2*time.Second), recs[0].DeliveredAt)
		require.Equal(t, 1, recs[0].Attempts)
		require.Equal(t, `{"id":"a1","text":"é"}`, string(recs[0].Body))
		require.True(t, recs[1].DeliveredAt.IsZero())
		recs, err = s.MessageEvents(ctx, "msg_b")
		require.NoError(t, err)
		require.Equal(t, "503 from back end", recs[0].LastError)
		pending, err = s.PendingEvents(ctx)
		require.NoError(t, err)
		require.Equal(t, 3, pending)
	})
}

// TestClaimEventsConcurrently has several instances claim at once: an
// event is never handed out twice, and two events of one key are never out
// at the same time.
func TestClaimEventsConcurrently(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine, s *sqlstore.Store) {
		const keys, perKey = 20, 5
		var evs []unify.OutboxEvent
		for i := range perKey {
			for k := range keys {
				evs = append(evs, unify.OutboxEvent{ID: fmt.Sprintf("e%02d-%d", k, i), Key: fmt.Sprintf("msg_%02d", k),
					Type: unify.EventStatus, Body: []byte("{}"), CreatedAt: t0})
			}
		}
		addEvents(t, s, evs...)
		ctx := context.Background()
		var mu sync.Mutex
		out := map[string]string{} // key → event out now
		done := map[string]int{}   // key → events delivered
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for idle := 0; idle < 3; {
					got, err := s.ClaimEvents(ctx, fmt.Sprintf("i%d", w), t0, t0.Add(time.Hour), 3)
					if err != nil {
						t.Error(err)
						return
					}
					if len(got) == 0 {
						idle++
						continue
					}
					idle = 0
					for _, e := range got {
						mu.Lock()
						if prev, busy := out[e.Key]; busy {
							t.Errorf("%s handed out while %s of the same key is", e.ID, prev)
						}
						if want := fmt.Sprintf("e%s-%d", strings.TrimPrefix(e.Key, "msg_"), done[e.Key]); e.ID != want {
							t.Errorf("got %s, want %s: out of order", e.ID, want)
						}
						out[e.Key] = e.ID
						mu.Unlock()
					}
					for _, e := range got {
						mu.Lock()
						delete(out, e.Key)
						done[e.Key]++
						mu.Unlock()
						if err := s.EventDelivered(ctx, e.ID, t0); err != nil {
							t.Error(err)
						}
					}
				}
			}()
		}
		wg.Wait()
		for k := range keys {
			require.Equal(t, perKey, done[fmt.Sprintf("msg_%02d", k)])
		}
	})
}

// A reply's conversation is the newest message to its number from its
// sender that reached the carrier; messages failed or still on their way,
// newer or not, are passed over.
func TestConversations(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine, s *sqlstore.Store) {
		at := func(id, sender, conv string, st unify.Status, minute int) *unify.Message {
			m := newMessage(id, t0.Add(time.Duration(minute)*time.Minute))
			m.From, m.ConversationID, m.Status = sender, conv, st
			return m
		}
		lookup := func(sender string) (sqlstore.Conversation, bool) {
			var c sqlstore.Conversation
			var found bool
			inTx(t, s, func(tx *sqlstore.Tx) error {
				var err error
				c, found, err = tx.Conversation(sender, "+33612345678")
				return err
			})
			return c, found
		}
		_, found := lookup("acme")
		require.False(t, found, "nothing sent yet")

		delivered := at("msg_1", "acme", "thread-1", unify.StatusDelivered, 1)
		insertMessages(t, s, delivered,
			at("msg_0", "acme", "thread-0", unify.StatusRead, 0),
			at("msg_2", "acme", "thread-2", unify.StatusFailed, 2),
			at("msg_3", "acme", "thread-3", unify.StatusSending, 3),
			at("msg_4", "acme", "thread-4", unify.StatusAccepted, 4),
			at("msg_5", "globex", "thread-5", unify.StatusSent, 5))
		c, found := lookup("acme")
		require.True(t, found)
		require.Equal(t, sqlstore.Conversation{MessageID: "msg_1", ConversationID: "thread-1", CreatedAt: delivered.CreatedAt}, c)

		// The newer message reaches the carrier: replies go to it.
		inTx(t, s, func(tx *sqlstore.Tx) error {
			sent := at("msg_3", "acme", "thread-3", unify.StatusSent, 3)
			moved, err := tx.MoveMessage(sent, unify.StatusSending, t0.Add(time.Hour))
			require.True(t, moved)
			return err
		})
		c, _ = lookup("acme")
		require.Equal(t, unify.MessageID("msg_3"), c.MessageID)
		require.Equal(t, "thread-3", c.ConversationID)

		c, found = lookup("globex")
		require.True(t, found)
		require.Equal(t, unify.MessageID("msg_5"), c.MessageID)
		_, found = lookup("initech")
		require.False(t, found)
	})
}

func TestIdempotency(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine, s *sqlstore.Store) {
		ctx := context.Background()
		idem := unify.Idempotency{Scope: "backend", Key: "k1", Hash: "h1"}
		inTx(t, s, func(tx *sqlstore.Tx) error {
			_, _, found, err := tx.Idempotent("backend", "k1")
			require.False(t, found)
			if err != nil {
				return err
			}
			return tx.SaveIdempotency(idem, "msg_1", t0)
		})
		inTx(t, s, func(tx *sqlstore.Tx) error {
			hash, id, found, err := tx.Idempotent("backend", "k1")
			require.True(t, found)
			require.Equal(t, "h1", hash)
			require.Equal(t, unify.MessageID("msg_1"), id)
			if err != nil {
				return err
			}
			_, _, found, err = tx.Idempotent("other-key-name", "k1")
			require.False(t, found, "keys are scoped")
			return err
		})
		// Two instances racing with one key: the second save is a conflict.
		err := s.InTx(ctx, func(tx *sqlstore.Tx) error { return tx.SaveIdempotency(idem, "msg_2", t0) })
		require.Equal(t, unify.CodeConflict, unify.CodeOf(err), "%v", err)
	})
}

func TestInboundDeduplication(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine, s *sqlstore.Store) {
		for i, tc := range []struct {
			name    string
			carrier string
			extID   string
			dup     bool
		}{
			{"first", "sim-fr", "mo-1", false},
			{"redelivered", "sim-fr", "mo-1", true},
			{"same id, other carrier", "sim-uk", "mo-1", false},
			{"no id", "sim-fr", "", false},
			{"no id again", "sim-fr", "", false},
		} {
			inTx(t, s, func(tx *sqlstore.Tx) error {
				dup, err := tx.InsertInbound(sqlstore.InboundRecord{
					ID: fmt.Sprintf("in_%d", i), Sender: "acme", MessageID: "msg_1", ConversationID: "thread-1",
					Inbound: unify.Inbound{ExternalID: tc.extID, Channel: unify.ChannelSMS, Carrier: tc.carrier,
						From: "+33612345678", To: "ACME", Text: "Merci 👍", At: t0},
				})
				require.Equal(t, tc.dup, dup, tc.name)
				return err
			})
		}
	})
}

func TestFragments(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine, s *sqlstore.Store) {
		base := sqlstore.Fragment{Carrier: "sim-fr", From: "+33612345678", To: "ACME", Ref: "42", Total: 3}
		frag := func(seq int, text string) sqlstore.Fragment {
			f := base
			f.Seq, f.Text, f.At = seq, text, t0.Add(time.Duration(seq)*time.Second)
			return f
		}
		var got []sqlstore.Fragment
		inTx(t, s, func(tx *sqlstore.Tx) error {
			for _, f := range []sqlstore.Fragment{frag(3, "c"), frag(1, "a€"), frag(1, "a€")} { // redelivered part 1
				var err error
				if got, err = tx.AddFragment(f); err != nil {
					return err
				}
			}
			return nil
		})
		require.Equal(t, []sqlstore.Fragment{frag(1, "a€"), frag(3, "c")}, got)
		other := base
		other.Ref = "43"
		inTx(t, s, func(tx *sqlstore.Tx) error {
			if _, err := tx.AddFragment(sqlstore.Fragment{Carrier: "sim-fr", From: "+33612345678", To: "ACME", Ref: "43", Total: 3, Seq: 1, Text: "x", At: t0}); err != nil {
				return err
			}
			if err := tx.DeleteFragments(base); err != nil {
				return err
			}
			left, err := tx.Fragments(base)
			require.Empty(t, left)
			if err != nil {
				return err
			}
			left, err = tx.Fragments(other)
			require.Len(t, left, 1)
			return err
		})

		for _, tc := range []struct {
			key  string
			want sqlstore.Fragment
			err  bool
		}{
			{base.GroupKey(), sqlstore.Fragment{Carrier: "sim-fr", From: "+33612345678", To: "ACME", Ref: "42", Total: 3}, false},
			{"a|b|c|d", sqlstore.Fragment{}, true},
			{"a|b|c|d|x", sqlstore.Fragment{}, true},
		} {
			f, err := sqlstore.FragmentFromKey(tc.key)
			if tc.err {
				require.Error(t, err, tc.key)
				continue
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, f)
		}
	})
}

func TestConsent(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine, s *sqlstore.Store) {
		ctx := context.Background()
		_, found, err := s.ConsentOf(ctx, "acme", "+33612345678")
		require.NoError(t, err)
		require.False(t, found)
		for _, tc := range []struct {
			name    string
			out     bool
			keyword string
			changed bool
		}{
			{"STOP", true, "STOP", true},
			{"STOP again is not news", true, "ARRET", false},
			{"START", false, "START", true},
		} {
			inTx(t, s, func(tx *sqlstore.Tx) error {
				changed, err := tx.SetConsent("acme", "+33612345678", sqlstore.Consent{OptedOut: tc.out, Channel: unify.ChannelSMS, Keyword: tc.keyword, UpdatedAt: t0})
				require.Equal(t, tc.changed, changed, tc.name)
				return err
			})
		}
		c, found, err := s.ConsentOf(ctx, "acme", "+33612345678")
		require.NoError(t, err)
		require.True(t, found)
		require.Equal(t, sqlstore.Consent{OptedOut: false, Channel: unify.ChannelSMS, Keyword: "START", UpdatedAt: t0}, c)
	})
}

// TestConsentInTx follows the lookups a send makes in its transaction,
// which SQLite answers from its set of numbers with a record when it can:
// a record stored before or after the first lookup, in another transaction
// or the same one, or before the store was opened, is always seen, and a
// record rolled back never is.
func TestConsentInTx(t *testing.T) {
	t.Parallel()
	stop := sqlstore.Consent{OptedOut: true, Channel: unify.ChannelSMS, Keyword: "STOP", UpdatedAt: t0}
	set := func(sender, number string) func(tx *sqlstore.Tx) error {
		return func(tx *sqlstore.Tx) error { _, err := tx.SetConsent(sender, number, stop); return err }
	}
	// optedOut looks numbers up in a transaction of their own, after before
	// (nil: nothing) ran in it.
	optedOut := func(t *testing.T, s *sqlstore.Store, before func(tx *sqlstore.Tx) error, numbers ...string) []bool {
		t.Helper()
		var got []bool
		inTx(t, s, func(tx *sqlstore.Tx) error {
			got = got[:0] // the unit may run twice (see InTx)
			if before != nil {
				if err := before(tx); err != nil {
					return err
				}
			}
			for _, n := range numbers {
				c, found, err := tx.ConsentOf("acme", n)
				if err != nil {
					return err
				}
				got = append(got, found && c.OptedOut)
			}
			return nil
		})
		return got
	}
	forEachEngine(t, func(t *testing.T, e engine, s *sqlstore.Store) {
		inTx(t, s, set("acme", "+33600000001")) // before any lookup
		for _, tc := range []struct {
			name   string
			before func(tx *sqlstore.Tx) error
			number string
			want   bool
		}{
			{"no record", nil, "+33600000009", false},
			{"stored before the first lookup", nil, "+33600000001", true},
			{"stored in the same transaction", set("acme", "+33600000002"), "+33600000002", true},
			{"another sender's record", set("other", "+33600000003"), "+33600000003", false},
		} {
			require.Equal(t, []bool{tc.want}, optedOut(t, s, tc.before, tc.number), tc.name)
		}
		errRollback := errors.New("roll back")
		require.ErrorIs(t, s.InTx(context.Background(), func(tx *sqlstore.Tx) error {
			if err := set("acme", "+33600000004")(tx); err != nil {
				return err
			}
			return errRollback
		}), errRollback)
		inTx(t, s, set("acme", "+33600000005")) // after the lookups began
		require.Equal(t, []bool{false, true, true}, optedOut(t, s, nil, "+33600000004", "+33600000005", "+33600000002"),
			"rolled back, stored after the first lookup, stored earlier")
	})
	t.Run("sqlite, stored before the store opened", func(t *testing.T) {
		t.Parallel()
		dsn := "sqlite:" + filepath.Join(t.TempDir(), "gw.db")
		first, err := sqlstore.Open(context.Background(), dsn, sqlstore.Options{})
		require.NoError(t, err)
		require.NoError(t, first.Migrate(context.Background()))
		inTx(t, first, set("acme", "+33600000001"))
		require.NoError(t, first.Close())
		require.Equal(t, []bool{true}, optedOut(t, openMigrated(t, dsn, sqlstore.Options{}), nil, "+33600000001"))
	})
}

func TestWebLinks(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine, s *sqlstore.Store) {
		ctx := context.Background()
		insertMessages(t, s, newMessage("msg_1", t0))
		inTx(t, s, func(tx *sqlstore.Tx) error {
			tok, err := tx.CreateWebLink("msg_1", "tok-1", t0.Add(time.Hour), t0)
			require.Equal(t, "tok-1", tok)
			if err != nil {
				return err
			}
			tok, err = tx.CreateWebLink("msg_1", "tok-2", t0.Add(time.Hour), t0)
			require.Equal(t, "tok-1", tok, "a message keeps its link")
			return err
		})
		for _, tc := range []struct {
			token string
			now   time.Time
			want  unify.MessageID
		}{
			{"tok-1", t0, "msg_1"},
			{"tok-1", t0.Add(time.Hour), ""},
			{"tok-2", t0, ""},
		} {
			id, ok, err := s.WebLink(ctx, tc.token, tc.now)
			require.NoError(t, err)
			require.Equal(t, tc.want != "", ok)
			require.Equal(t, tc.want, id)
		}
	})
}

func TestPolicies(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine, s *sqlstore.Store) {
		ctx := context.Background()
		p := func(name string, timeout time.Duration) unify.Policy {
			return unify.Policy{Name: name, Steps: []unify.Step{{Channel: unify.ChannelRCS, Timeout: timeout}, {Channel: unify.ChannelSMS}},
				SMS: unify.SMSOptions{NumberReplies: true}}
		}
		inTx(t, s, func(tx *sqlstore.Tx) error {
			if err := tx.SeedPolicy(p("otp", time.Minute), t0); err != nil {
				return err
			}
			if err := tx.SeedPolicy(p("otp", time.Hour), t0); err != nil { // seeding never overwrites
				return err
			}
			return tx.UpsertPolicy(p("default", 0), t0)
		})
		got, err := s.Policy(ctx, "otp")
		require.NoError(t, err)
		require.Equal(t, p("otp", time.Minute), got)
		inTx(t, s, func(tx *sqlstore.Tx) error { return tx.UpsertPolicy(p("otp", 2*time.Minute), t0) })
		all, err := s.Policies(ctx)
		require.NoError(t, err)
		require.Equal(t, []unify.Policy{p("default", 0), p("otp", 2*time.Minute)}, all)
		inTx(t, s, func(tx *sqlstore.Tx) error { return tx.DeletePolicy("otp") })
		_, err = s.Policy(ctx, "otp")
		require.Equal(t, unify.CodeNotFound, unify.CodeOf(err))
	})
}

func TestBindSlots(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine, s *sqlstore.Store) {
		ctx := context.Background()
		ttl := 15 * time.Second
		type op struct {
			name  string
			do    string // acquire, renew, release
			owner string
			slot  int
			at    time.Duration // after t0
			want  bool
		}
		for _, o := range []op{
			{"free slot", "acquire", "gw-a", 0, 0, true},
			{"held by another", "acquire", "gw-b", 0, time.Second, false},
			{"holder extends", "acquire", "gw-a", 0, 2 * time.Second, true},
			{"other slot", "acquire", "gw-b", 1, 2 * time.Second, true},
			{"renew by holder", "renew", "gw-a", 0, 10 * time.Second, true}, // until 25s
			{"renew by stranger", "renew", "gw-b", 0, 10 * time.Second, false},
			{"still held", "acquire", "gw-c", 0, 24 * time.Second, false},
			{"taken over once run out", "acquire", "gw-c", 0, 25 * time.Second, true},
			{"the old holder has lost it", "renew", "gw-a", 0, 26 * time.Second, false},
			{"release by stranger does nothing", "release", "gw-a", 1, 11 * time.Second, false},
			{"held after stranger's release", "acquire", "gw-c", 1, 11 * time.Second, false},
			{"release", "release", "gw-b", 1, 11 * time.Second, false},
			{"free again", "acquire", "gw-c", 1, 12 * time.Second, true}, // until 27s
		} {
			now := t0.Add(o.at)
			var got bool
			var err error
			switch o.do {
			case "acquire":
				got, err = s.AcquireBindSlot(ctx, "sim-fr", o.slot, o.owner, now, now.Add(ttl))
			case "renew":
				got, err = s.RenewBindSlot(ctx, "sim-fr", o.slot, o.owner, now.Add(ttl))
			case "release":
				err = s.ReleaseBindSlot(ctx, "sim-fr", o.slot, o.owner)
			}
			require.NoError(t, err, o.name)
			require.Equal(t, o.want, got, o.name)
		}
		slots, err := s.BindSlots(ctx, "sim-fr", t0.Add(26*time.Second))
		require.NoError(t, err)
		require.Equal(t, []sqlstore.BindSlot{
			{Carrier: "sim-fr", Slot: 0, Owner: "gw-c", Until: t0.Add(40 * time.Second)},
			{Carrier: "sim-fr", Slot: 1, Owner: "gw-c", Until: t0.Add(27 * time.Second)},
		}, slots)
		slots, err = s.BindSlots(ctx, "sim-fr", t0.Add(27*time.Second))
		require.NoError(t, err)
		require.Len(t, slots, 1, "slot 1 ran out")
		slots, err = s.BindSlots(ctx, "other", t0)
		require.NoError(t, err)
		require.Empty(t, slots)

		// Memberships: how many instances share the carrier's slots.
		for _, tc := range []struct {
			owner string
			at    time.Duration
			want  int
		}{
			{"gw-a", 0, 1},
			{"gw-b", time.Second, 2},
			{"gw-a", 10 * time.Second, 2}, // renewed until 25s
			{"gw-c", 20 * time.Second, 2}, // gw-b ran out at 16s
			{"gw-c", 26 * time.Second, 1},
		} {
			now := t0.Add(tc.at)
			n, err := s.JoinBinds(ctx, "sim-fr", tc.owner, now, now.Add(ttl))
			require.NoError(t, err)
			require.Equal(t, tc.want, n, "%s at %s", tc.owner, tc.at)
		}
		require.NoError(t, s.LeaveBinds(ctx, "sim-fr", "gw-c"))
		n, err := s.JoinBinds(ctx, "sim-fr", "gw-d", t0.Add(27*time.Second), t0.Add(time.Minute))
		require.NoError(t, err)
		require.Equal(t, 1, n)
	})
}

// TestBindLeaser races instances for a carrier's slots through the leaser:
// each slot has one holder at a time.
func TestBindLeaser(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine, s *sqlstore.Store) {
		ctx := context.Background()
		now := t0
		clock := func() time.Time { return now }
		leasers := make([]*sqlstore.BindLeaser, 6)
		for i := range leasers {
			leasers[i] = &sqlstore.BindLeaser{Store: s, Owner: fmt.Sprintf("gw-%d", i), TTL: 10 * time.Second, NowFunc: clock}
		}
		won := make([][]int, len(leasers))
		var wg sync.WaitGroup
		for i, l := range leasers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for slot := range 3 {
					ok, err := l.Acquire(ctx, "sim-fr", slot)
					if err != nil {
						t.Error(err)
					}
					if ok {
						won[i] = append(won[i], slot)
					}
				}
			}()
		}
		wg.Wait()
		holders := map[int]int{}
		for i, slots := range won {
			for _, slot := range slots {
				holders[slot]++
				ok, err := leasers[i].Renew(ctx, "sim-fr", slot)
				require.NoError(t, err)
				require.True(t, ok)
			}
		}
		require.Equal(t, map[int]int{0: 1, 1: 1, 2: 1}, holders, "each slot won once")

		n, err := leasers[0].Sharers(ctx, "sim-fr")
		require.NoError(t, err)
		require.Equal(t, 1, n)
		n, err = leasers[1].Sharers(ctx, "sim-fr")
		require.NoError(t, err)
		require.Equal(t, 2, n)
		require.NoError(t, leasers[1].Leave(ctx, "sim-fr"))

		for i, slots := range won {
			for _, slot := range slots {
				require.NoError(t, leasers[i].Release(ctx, "sim-fr", slot))
			}
		}
		ok, err := leasers[5].Acquire(ctx, "sim-fr", 2)
		require.NoError(t, err)
		require.True(t, ok)
		// Without renewal the lease runs out after TTL.
		now = now.Add(10 * time.Second)
		ok, err = leasers[4].Acquire(ctx, "sim-fr", 2)
		require.NoError(t, err)
		require.True(t, ok)
	})
}

func TestTrafficAndSessions(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine, s *sqlstore.Store) {
		ctx := context.Background()
		var ms []*unify.Message
		for i := range 5 {
			m := newMessage(fmt.Sprintf("msg_%d", i), t0.Add(time.Duration(i)*time.Second))
			if i%2 == 1 {
				m.Status = unify.StatusDelivered
			}
			ms = append(ms, m)
		}
		ms[4].CreatedAt, ms[4].UpdatedAt = ms[3].CreatedAt, ms[3].CreatedAt // a tie in the keyset
		insertMessages(t, s, ms...)

		page, err := s.TrafficMessages(ctx, sqlstore.TrafficFilter{Limit: 2})
		require.NoError(t, err)
		require.Equal(t, []unify.MessageID{"msg_4", "msg_3"}, summaryIDs(page))
		require.NotNil(t, page.Older)
		page, err = s.TrafficMessages(ctx, sqlstore.TrafficFilter{Limit: 2, Before: page.Older})
		require.NoError(t, err)
		require.Equal(t, []unify.MessageID{"msg_2", "msg_1"}, summaryIDs(page))
		page, err = s.TrafficMessages(ctx, sqlstore.TrafficFilter{Limit: 5, After: page.Newer})
		require.NoError(t, err)
		require.Equal(t, []unify.MessageID{"msg_4", "msg_3"}, summaryIDs(page))
		page, err = s.TrafficMessages(ctx, sqlstore.TrafficFilter{Status: unify.StatusDelivered, Number: "+33612345678", Sender: "acme"})
		require.NoError(t, err)
		require.Equal(t, []unify.MessageID{"msg_3", "msg_1"}, summaryIDs(page))

		buckets, err := s.TrafficBuckets(ctx, t0, t0.Add(time.Hour))
		require.NoError(t, err)
		require.Equal(t, []sqlstore.TrafficBucket{
			{Minute: t0, Status: unify.StatusAccepted, Count: 3},
			{Minute: t0, Status: unify.StatusDelivered, Count: 2},
		}, buckets)

		inTx(t, s, func(tx *sqlstore.Tx) error {
			if err := tx.InsertAttempt(&unify.Attempt{ID: "att_1", MessageID: "msg_1", Channel: unify.ChannelSMS, Carrier: "sim-fr",
				Status: unify.StatusDelivered, Segments: 1, Parts: []unify.Part{{Seq: 0, Ref: form("99"), Status: unify.StatusDelivered}}}, t0); err != nil {
				return err
			}
			if err := tx.AddEvent(unify.OutboxEvent{ID: "ev_1", Key: "msg_1", Type: unify.EventStatus, Body: []byte("{}"), CreatedAt: t0}, "msg_1"); err != nil {
				return err
			}
			_, err := tx.InsertInbound(sqlstore.InboundRecord{ID: "in_1", Sender: "acme", MessageID: "msg_1",
				Inbound: unify.Inbound{Channel: unify.ChannelSMS, Carrier: "sim-fr", From: "+33612345678", Text: "Oui", At: t0.Add(time.Minute)}})
			return err
		})
		tl, err := s.MessageTimeline(ctx, "msg_1")
		require.NoError(t, err)
		require.Equal(t, ms[1].Content, tl.Message.Content)
		require.Len(t, tl.Attempts, 1)
		require.Equal(t, "99", tl.Attempts[0].Parts[0].CarrierID)
		require.Len(t, tl.Events, 1)
		require.Len(t, tl.Replies, 1)
		require.Equal(t, "Oui", tl.Replies[0].Text)

		us := sqlstore.UISession{ID: "sess", CSRF: "csrf", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
		require.NoError(t, s.CreateUISession(ctx, us))
		got, err := s.UISession(ctx, "sess")
		require.NoError(t, err)
		require.Equal(t, us, got)
		require.NoError(t, s.DeleteExpiredUISessions(ctx, t0.Add(2*time.Hour)))
		_, err = s.UISession(ctx, "sess")
		require.Equal(t, unify.CodeNotFound, unify.CodeOf(err))
		require.NoError(t, s.CreateUISession(ctx, us))
		require.NoError(t, s.DeleteUISession(ctx, "sess"))
		_, err = s.UISession(ctx, "sess")
		require.Equal(t, unify.CodeNotFound, unify.CodeOf(err))
	})
}

func summaryIDs(p sqlstore.TrafficPage) []unify.MessageID {
	out := []unify.MessageID{}
	for _, m := range p.Messages {
		out = append(out, m.ID)
	}
	return out
}

// MoveMessage changes a message only while it is as the caller last saw it:
// same status, same number (an erasure replaces the number).
func TestMoveMessage(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine, s *sqlstore.Store) {
		ctx := context.Background()
		m := newMessage("msg_move", t0)
		insertMessages(t, s, m)
		move := func(to unify.Status, was unify.Status, number string) bool {
			next := *m
			next.Status, next.Channel, next.Carrier, next.To = to, unify.ChannelSMS, "sim-fr", number
			var moved bool
			inTx(t, s, func(tx *sqlstore.Tx) error {
				var err error
				moved, err = tx.MoveMessage(&next, was, t0.Add(time.Second))
				return err
			})
			return moved
		}
		require.False(t, move(unify.StatusSent, unify.StatusSending, m.To), "status differs")
		require.False(t, move(unify.StatusSent, unify.StatusAccepted, "+33600000000"), "number differs")
		got, err := s.Message(ctx, m.ID)
		require.NoError(t, err)
		require.Equal(t, unify.StatusAccepted, got.Status)
		require.Equal(t, t0, got.UpdatedAt)

		require.True(t, move(unify.StatusSent, unify.StatusAccepted, m.To))
		got, err = s.Message(ctx, m.ID)
		require.NoError(t, err)
		require.Equal(t, unify.StatusSent, got.Status)
		require.Equal(t, unify.ChannelSMS, got.Channel)
		require.Equal(t, "sim-fr", got.Carrier)
		require.Equal(t, t0.Add(time.Second), got.UpdatedAt)
		require.False(t, move(unify.StatusSent, unify.StatusAccepted, m.To), "already moved")
	})
}

// A job inserted already leased is its creator's as if claimed: no other
// owner claims it before the lease ends, its id completes it, and once the
// lease has run out anyone may take it over. On SQLite a send job so made
// is not stored: the accepted message stands for it until a retry stores
// it, or a restart finds it (RequeueUnsent).
func TestAddLeasedJob(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine, s *sqlstore.Store) {
		insertMessages(t, s, newMessage("msg_a", t0), newMessage("msg_b", t0), newMessage("msg_c", t0))
		var a, b sqlstore.Job
		inTx(t, s, func(tx *sqlstore.Tx) error {
			var err error
			if a, err = tx.AddLeasedJob(sqlstore.JobSend, "msg_a", t0, "me", t0.Add(time.Minute)); err != nil {
				return err
			}
			b, err = tx.AddLeasedJob(sqlstore.JobSend, "msg_b", t0, "me", t0.Add(time.Minute))
			return err
		})
		require.Equal(t, 1, a.Tries)
		require.Empty(t, claim(t, s, "other", t0.Add(time.Second), time.Minute, 10), "leased to me")
		inTx(t, s, func(tx *sqlstore.Tx) error { return tx.CompleteJob(a, "me") })
		ctx := context.Background()
		if e.name == "sqlite" {
			require.Zero(t, a.ID, "held in memory")
			require.Empty(t, claim(t, s, "other", t0.Add(2*time.Minute), time.Minute, 10), "nothing stored")

			// msg_a was sent (its job completed), msg_b's send waits for a
			// retry, msg_c's was cut short by a crash.
			inTx(t, s, func(tx *sqlstore.Tx) error {
				m := newMessage("msg_a", t0)
				m.Status = unify.StatusSent
				_, err := tx.MoveMessage(m, unify.StatusAccepted, t0)
				return err
			})
			require.NoError(t, s.RetryJob(ctx, b, "me", t0.Add(time.Hour), "carrier busy"))
			n, err := s.RequeueUnsent(ctx, t0.Add(time.Minute))
			require.NoError(t, err)
			require.EqualValues(t, 1, n)
			taken := claim(t, s, "other", t0.Add(2*time.Minute), time.Minute, 10)
			require.Equal(t, []string{"send:msg_c"}, refs(taken), "msg_b waits for its retry")
			require.Equal(t, 1, taken[0].Tries)
			taken = claim(t, s, "other", t0.Add(2*time.Hour), time.Minute, 10)
			require.Equal(t, []string{"send:msg_b", "send:msg_c"}, refs(taken), "msg_c's lease ran out too")
			require.Equal(t, 2, taken[0].Tries, "msg_b's first try counted")
			n, err = s.RequeueUnsent(ctx, t0.Add(time.Minute))
			require.NoError(t, err)
			require.Zero(t, n, "every accepted message has its job")
			return
		}
		require.NotZero(t, a.ID)
		require.NotEqual(t, a.ID, b.ID)
		taken := claim(t, s, "other", t0.Add(2*time.Minute), time.Minute, 10)
		require.Equal(t, []string{"send:msg_b"}, refs(taken), "msg_a done; msg_b's lease ran out")
		require.Equal(t, b.ID, taken[0].ID)
		require.Equal(t, 2, taken[0].Tries)
		n, err := s.RequeueUnsent(ctx, t0)
		require.NoError(t, err)
		require.Zero(t, n, "PostgreSQL stores every job")
	})
}

// A receipt that delivers the one part of an attempt writes only the
// attempt (PartSettledByAttempt): the part reads as its attempt says, in
// the dispatcher's view and the UI's, and only then.
func TestPartSettledByAttempt(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e engine, s *sqlstore.Store) {
		ctx := context.Background()
		for i, tc := range []struct {
			name      string
			attempt   unify.Status
			attErr    string
			parts     int
			partsRead unify.Status
		}{
			{"delivered", unify.StatusDelivered, "", 1, unify.StatusDelivered},
			{"read", unify.StatusRead, "", 1, unify.StatusRead},
			{"failed: its part is written", unify.StatusFailed, "part 1 of 1 failed", 1, unify.StatusSent},
			{"delivered late: its part is written", unify.StatusDelivered, "delivered after the fallback moved on", 1, unify.StatusSent},
			{"revoked without a receipt", unify.StatusRevoked, "", 1, unify.StatusSent},
			{"two parts are written each", unify.StatusDelivered, "", 2, unify.StatusSent},
		} {
			t.Run(tc.name, func(t *testing.T) {
				m := newMessage(fmt.Sprintf("msg_settled_%d", i), t0)
				insertMessages(t, s, m)
				a := &unify.Attempt{ID: unify.AttemptID(fmt.Sprintf("att_settled_%d", i)), MessageID: m.ID,
					Channel: unify.ChannelSMS, Carrier: "sim-fr", Status: unify.StatusSent, Segments: tc.parts}
				for seq := 1; seq <= tc.parts; seq++ {
					a.Parts = append(a.Parts, unify.Part{Seq: seq, Ref: form(fmt.Sprintf("%d%d", 900+i, seq)), Status: unify.StatusSent})
				}
				inTx(t, s, func(tx *sqlstore.Tx) error { return tx.InsertAttempt(a, t0) })
				a.Status, a.Error = tc.attempt, tc.attErr
				inTx(t, s, func(tx *sqlstore.Tx) error { return tx.UpdateAttempt(a, t0.Add(time.Second)) })

				got, err := s.Message(ctx, m.ID)
				require.NoError(t, err)
				require.Len(t, got.Attempts, 1)
				require.Len(t, got.Attempts[0].Parts, tc.parts)
				tl, err := s.MessageTimeline(ctx, m.ID)
				require.NoError(t, err)
				require.Len(t, tl.Attempts, 1)
				for i := range tc.parts {
					require.Equal(t, tc.partsRead, got.Attempts[0].Parts[i].Status)
					require.Equal(t, tc.partsRead, tl.Attempts[0].Parts[i].Status)
					require.Empty(t, tl.Attempts[0].Parts[i].Error)
				}
			})
		}
	})
}
