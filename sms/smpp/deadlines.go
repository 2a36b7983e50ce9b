package smpp

import (
	"net"
	"sync"
	"time"
)

// coarseDeadlines passes deadlines on to the connection only when they move
// by more than an eighth of what is left of them: gosmpp sets a read deadline
// before every PDU it reads and a write deadline before every one it writes,
// each a runtime timer update, about 1 % of the gateway's CPU under make
// bench. An earlier deadline, or none, is always passed on; a later one is
// kept back only while the one in force is at most an eighth of its length
// earlier, so a read or write times out after seven eighths of its timeout
// at the soonest, never later than asked.
type coarseDeadlines struct {
	net.Conn
	mu          sync.Mutex
	read, write time.Time // as last passed on
}

func (c *coarseDeadlines) SetReadDeadline(t time.Time) error {
	return c.set(&c.read, t, c.Conn.SetReadDeadline)
}

func (c *coarseDeadlines) SetWriteDeadline(t time.Time) error {
	return c.set(&c.write, t, c.Conn.SetWriteDeadline)
}

func (c *coarseDeadlines) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.read, c.write = t, t
	return c.Conn.SetDeadline(t)
}

func (c *coarseDeadlines) set(inForce *time.Time, t time.Time, pass func(time.Time) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !t.IsZero() && !inForce.IsZero() && !t.Before(*inForce) && t.Sub(*inForce) <= time.Until(t)/8 {
		return nil
	}
	*inForce = t
	return pass(t)
}
