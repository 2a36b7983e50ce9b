package notify

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"gateway/unify"
	"gateway/unify/messenger"
	"gateway/unify/whatsapp"
)

// The event dialects of unify.OutboxEvent.Dialect: the API key that sent a
// message chooses the shape its status events and replies are POSTed in.
const (
	DialectUnified   = "unified" // the gateway's own events; "" means the same
	DialectMessenger = "messenger"
	DialectWhatsApp  = "whatsapp"
)

// Meta's webhook headers (shared/specs/meta.md §5).
const (
	HeaderHubSignature256 = "X-Hub-Signature-256"
	HeaderHubSignature    = "X-Hub-Signature" // legacy, HMAC-SHA1
)

// isMeta reports whether a dialect is one of Meta's.
func isMeta(dialect string) bool {
	return dialect == DialectMessenger || dialect == DialectWhatsApp
}

// Render returns the body POSTed for ev: the stored body in the unified
// dialect, a Messenger or WhatsApp webhook in theirs. skip is true when the
// dialect has no such event (Messenger's sent and failed, any dialect's
// switching): nothing is POSTed and the event counts as delivered. Event
// types Meta has no shape for (consent.changed, subject.erased) and unknown
// dialects are POSTed in the unified dialect.
//
// Status events name the person and the sender in "to" and "from" when the
// core writes them; without them the Meta webhooks carry empty ids.
func Render(ev unify.OutboxEvent) (body []byte, skip bool, err error) {
	if !isMeta(ev.Dialect) {
		return ev.Body, false, nil
	}
	var wh any
	switch ev.Type {
	case unify.EventStatus:
		// To and From, if unify.StatusEvent gains them under the same
		// names, are shadowed by these and still read.
		var st struct {
			unify.StatusEvent
			To   string `json:"to"`
			From string `json:"from"`
		}
		if err := json.Unmarshal(ev.Body, &st); err != nil {
			return nil, false, fmt.Errorf("notify: read status event %s: %w", ev.ID, err)
		}
		ok := false
		if ev.Dialect == DialectMessenger {
			wh, ok = messenger.StatusWebhook(st.StatusEvent, st.To, st.From)
		} else {
			wh, ok = whatsapp.StatusWebhook(st.StatusEvent, st.To, st.From)
		}
		if !ok {
			return nil, true, nil
		}
	case unify.EventInbound:
		var in unify.InboundEvent
		if err := json.Unmarshal(ev.Body, &in); err != nil {
			return nil, false, fmt.Errorf("notify: read inbound event %s: %w", ev.ID, err)
		}
		if ev.Dialect == DialectMessenger {
			wh = messenger.InboundWebhook(in)
		} else {
			wh = whatsapp.InboundWebhook(in)
		}
	default:
		return ev.Body, false, nil
	}
	body, err = json.Marshal(wh)
	if err != nil {
		return nil, false, fmt.Errorf("notify: write %s webhook: %w", ev.Dialect, err)
	}
	return body, false, nil
}

// signHub sets Meta's signature headers: X-Hub-Signature-256 is the same
// HMAC-SHA256 as X-Gateway-Signature (the webhook secret stands for the app
// secret), X-Hub-Signature the HMAC-SHA1 older bots still check.
func signHub(set func(key, value string), secret string, body []byte) {
	set(HeaderHubSignature256, Sign(secret, body))
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write(body)
	set(HeaderHubSignature, "sha1="+hex.EncodeToString(mac.Sum(nil)))
}

// hubState remembers whether the receiver passed the subscription
// handshake; the mutex also keeps two handshakes from running at once.
type hubState struct {
	mu       sync.Mutex
	verified bool
}

// verifySubscription performs Meta's subscription handshake once per
// Dispatcher before the first Meta-dialect event (shared/specs/meta.md §5):
// the gateway plays Meta's part, so it sends
// GET URL?hub.mode=subscribe&hub.verify_token=T&hub.challenge=N and the bot
// must answer 200 with N as its body. Until it does, its events fail and
// are retried with back-off like any failed delivery. Without a verify
// token there is no handshake.
func (d *Dispatcher) verifySubscription(timeout time.Duration) error {
	if d.cfg.VerifyToken == "" {
		return nil
	}
	d.hub.mu.Lock()
	defer d.hub.mu.Unlock()
	if d.hub.verified {
		return nil
	}
	u, err := url.Parse(d.cfg.URL)
	if err != nil {
		return fmt.Errorf("notify: webhook url: %w", err)
	}
	// Meta's challenges are decimal numbers, and bots have been written
	// that parse them as such.
	n, err := rand.Int(rand.Reader, big.NewInt(9e9))
	if err != nil {
		return fmt.Errorf("notify: challenge: %w", err)
	}
	challenge := n.Add(n, big.NewInt(1e9)).String()
	q := u.Query()
	q.Set("hub.mode", "subscribe")
	q.Set("hub.verify_token", d.cfg.VerifyToken)
	q.Set("hub.challenge", challenge)
	u.RawQuery = q.Encode()
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.SetRequestURI(u.String())
	status, head, err := d.client.do(req, timeout)
	if err != nil {
		return fmt.Errorf("notify: webhook verification: %w", err)
	}
	if status != http.StatusOK {
		return fmt.Errorf("notify: webhook verification: %w", &StatusError{Code: status, Body: snippet(head)})
	}
	if strings.TrimSpace(string(head)) != challenge {
		return fmt.Errorf("notify: webhook verification: the receiver answered %q instead of the hub.challenge", snippet(head))
	}
	d.hub.verified = true
	d.log.Info("notify: webhook verified the subscription (hub.challenge)")
	return nil
}
