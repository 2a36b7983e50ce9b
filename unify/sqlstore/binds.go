package sqlstore

import (
	"context"
	"fmt"
	"time"
)

// Bind slots: a carrier allows so many binds in all, and every gateway
// instance on the database takes its binds from that one pool. Slot i of a
// carrier is leased to one instance (its owner) at a time; the owner renews
// the lease while its bind is up and releases it when the bind goes down. A
// lease that was not renewed (its owner died) may be taken by anyone once it
// runs out. Every operation is one statement, atomic on both engines.

// BindSlot is the lease of one bind slot.
type BindSlot struct {
	Carrier string
	Slot    int
	Owner   string
	Until   time.Time
}

// AcquireBindSlot leases slot of carrier to owner until until, when the slot
// is free, its lease ran out before now, or owner holds it already (then the
// lease is extended). It reports whether owner holds the slot afterwards.
func (s *Store) AcquireBindSlot(ctx context.Context, carrier string, slot int, owner string, now, until time.Time) (bool, error) {
	// The WHERE of DO UPDATE is re-checked on the row as committed by a
	// concurrent taker (PostgreSQL locks the conflicting row first), so two
	// instances racing for an expired slot cannot both win.
	n, err := s.execCount(ctx, `INSERT INTO bind_leases (carrier, slot, owner, lease_until) VALUES (?,?,?,?)
		ON CONFLICT (carrier, slot) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until
		WHERE bind_leases.lease_until <= ? OR bind_leases.owner = excluded.owner`,
		carrier, slot, owner, micros(until), micros(now))
	if err != nil {
		return false, fmt.Errorf("sqlstore: acquire bind slot %s/%d: %w", carrier, slot, err)
	}
	return n == 1, nil
}

// RenewBindSlot extends owner's lease of slot to until. It reports false when
// owner no longer holds the slot: its lease ran out and another instance took
// it, so owner's bind on it must go. (A lease that ran out but was not taken
// is still owner's: nobody else can have bound on it.)
func (s *Store) RenewBindSlot(ctx context.Context, carrier string, slot int, owner string, until time.Time) (bool, error) {
	n, err := s.execCount(ctx, `UPDATE bind_leases SET lease_until = ? WHERE carrier = ? AND slot = ? AND owner = ?`,
		micros(until), carrier, slot, owner)
	if err != nil {
		return false, fmt.Errorf("sqlstore: renew bind slot %s/%d: %w", carrier, slot, err)
	}
	return n == 1, nil
}

// ReleaseBindSlot frees owner's lease of slot (nothing when another instance
// holds it).
func (s *Store) ReleaseBindSlot(ctx context.Context, carrier string, slot int, owner string) error {
	if err := s.exec(ctx, `DELETE FROM bind_leases WHERE carrier = ? AND slot = ? AND owner = ?`, carrier, slot, owner); err != nil {
		return fmt.Errorf("sqlstore: release bind slot %s/%d: %w", carrier, slot, err)
	}
	return nil
}

// BindSlots lists the leases of carrier's slots that have not run out at
// now, by slot (status pages, tests).
func (s *Store) BindSlots(ctx context.Context, carrier string, now time.Time) ([]BindSlot, error) {
	var rows []struct {
		Slot  int    `db:"slot"`
		Owner string `db:"owner"`
		Until int64  `db:"lease_until"`
	}
	err := s.r.SelectContext(ctx, &rows, s.r.Rebind(`SELECT slot, owner, lease_until FROM bind_leases
		WHERE carrier = ? AND lease_until > ? ORDER BY slot`), carrier, micros(now))
	if err != nil {
		return nil, classify(fmt.Errorf("sqlstore: list bind slots: %w", err))
	}
	out := make([]BindSlot, len(rows))
	for i, r := range rows {
		out[i] = BindSlot{Carrier: carrier, Slot: r.Slot, Owner: r.Owner, Until: fromMicros(r.Until)}
	}
	return out, nil
}

// JoinBinds records that owner wants binds of carrier until until (or keeps
// it recorded) and returns how many instances want them at now, owner
// included: each instance's fair share of the slots follows from it.
// Memberships that ran out are forgotten on the way.
func (s *Store) JoinBinds(ctx context.Context, carrier, owner string, now, until time.Time) (int, error) {
	var n int
	err := s.InTx(ctx, func(t *Tx) error {
		if _, err := t.exec(`DELETE FROM bind_members WHERE carrier = ? AND lease_until <= ?`, carrier, micros(now)); err != nil {
			return err
		}
		if _, err := t.exec(`INSERT INTO bind_members (carrier, owner, lease_until) VALUES (?,?,?)
			ON CONFLICT (carrier, owner) DO UPDATE SET lease_until = excluded.lease_until`, carrier, owner, micros(until)); err != nil {
			return err
		}
		return t.get(&n, `SELECT COUNT(*) FROM bind_members WHERE carrier = ? AND lease_until > ?`, carrier, micros(now))
	})
	if err != nil {
		return 0, classify(fmt.Errorf("sqlstore: join binds of %s: %w", carrier, err))
	}
	return n, nil
}

// LeaveBinds forgets owner's membership of carrier (a clean shutdown), so
// that the others' shares grow at once rather than when it runs out.
func (s *Store) LeaveBinds(ctx context.Context, carrier, owner string) error {
	if err := s.exec(ctx, `DELETE FROM bind_members WHERE carrier = ? AND owner = ?`, carrier, owner); err != nil {
		return fmt.Errorf("sqlstore: leave binds of %s: %w", carrier, err)
	}
	return nil
}

// execCount runs one write statement as its own unit of work and returns
// how many rows it changed.
func (s *Store) execCount(ctx context.Context, q string, args ...any) (int64, error) {
	var n int64
	err := s.InTx(ctx, func(t *Tx) error {
		var err error
		n, err = t.execRows(q, args...)
		return err
	})
	return n, err
}

// BindLeaser shares carriers' bind slots between the gateway instances of
// one database, under the name Owner. Its methods have the shape of
// smpp.SlotLeaser and smpp.SlotSharer (sqlstore does not import smpp).
type BindLeaser struct {
	Store *Store
	// Owner names this instance; it must differ between instances.
	Owner string
	// TTL is how long a lease or a membership lasts unless renewed (default
	// DefaultBindTTL). It must be several times the link's renewal period,
	// and it is how long a dead instance's slots stay unused.
	TTL time.Duration
	// NowFunc is the clock (default time.Now). Leases compare the clocks of
	// different instances: keep them synchronised (NTP) to well under TTL.
	NowFunc func() time.Time
}

// DefaultBindTTL is BindLeaser's default lease.
const DefaultBindTTL = 15 * time.Second

func (l *BindLeaser) window() (now, until time.Time) {
	now = time.Now()
	if l.NowFunc != nil {
		now = l.NowFunc()
	}
	ttl := l.TTL
	if ttl <= 0 {
		ttl = DefaultBindTTL
	}
	return now, now.Add(ttl)
}

// Acquire leases slot of carrier to this instance; false when another
// instance holds it.
func (l *BindLeaser) Acquire(ctx context.Context, carrier string, slot int) (bool, error) {
	now, until := l.window()
	return l.Store.AcquireBindSlot(ctx, carrier, slot, l.Owner, now, until)
}

// Renew extends this instance's lease of slot; false when it was lost.
func (l *BindLeaser) Renew(ctx context.Context, carrier string, slot int) (bool, error) {
	_, until := l.window()
	return l.Store.RenewBindSlot(ctx, carrier, slot, l.Owner, until)
}

// Release frees this instance's lease of slot.
func (l *BindLeaser) Release(ctx context.Context, carrier string, slot int) error {
	return l.Store.ReleaseBindSlot(ctx, carrier, slot, l.Owner)
}

// Sharers records this instance as wanting carrier's binds and returns how
// many instances do.
func (l *BindLeaser) Sharers(ctx context.Context, carrier string) (int, error) {
	now, until := l.window()
	return l.Store.JoinBinds(ctx, carrier, l.Owner, now, until)
}

// Leave withdraws this instance from carrier's binds.
func (l *BindLeaser) Leave(ctx context.Context, carrier string) error {
	return l.Store.LeaveBinds(ctx, carrier, l.Owner)
}
