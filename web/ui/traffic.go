package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"gateway/unify"
	"gateway/unify/sqlstore"
)

const pageSize = 50

// The datetime-local input's formats; the UI works in UTC, as the gateway
// logs do.
const (
	formMinute = "2006-01-02T15:04"
	formSecond = "2006-01-02T15:04:05"
)

// trafficForm is the filter form as typed.
type trafficForm struct {
	Number, Sender, Status, Channel, Since, Until string
}

func (f trafficForm) query() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"number": f.Number, "sender": f.Sender, "status": f.Status,
		"channel": f.Channel, "since": f.Since, "until": f.Until} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

// messageStatuses are the statuses a message (not an attempt) can have, in
// the order a message goes through them.
var messageStatuses = []unify.Status{unify.StatusAccepted, unify.StatusSending, unify.StatusSwitching,
	unify.StatusSent, unify.StatusDelivered, unify.StatusRead, unify.StatusFailed}

var channels = []unify.ChannelKind{unify.ChannelRCS, unify.ChannelMMS, unify.ChannelSMS}

// parseTrafficFilter reads the filter and the cursor from the query string,
// with an error per field that does not parse.
func parseTrafficFilter(q url.Values) (trafficForm, sqlstore.TrafficFilter, map[string]string) {
	errs := map[string]string{}
	form := trafficForm{
		Number:  strings.Map(dropSeparators, q.Get("number")),
		Sender:  strings.TrimSpace(q.Get("sender")),
		Status:  q.Get("status"),
		Channel: q.Get("channel"),
		Since:   strings.TrimSpace(q.Get("since")),
		Until:   strings.TrimSpace(q.Get("until")),
	}
	f := sqlstore.TrafficFilter{Number: form.Number, Sender: form.Sender, Limit: pageSize}
	if form.Number != "" && !unify.LooksE164(form.Number) {
		errs["number"] = "must be an E.164 number such as +33612345678"
	}
	if form.Status != "" {
		if !slices.Contains(messageStatuses, unify.Status(form.Status)) {
			errs["status"] = "is not a message status"
		}
		f.Status = unify.Status(form.Status)
	}
	if form.Channel != "" {
		if !unify.ChannelKind(form.Channel).Valid() {
			errs["channel"] = "must be rcs, mms or sms"
		}
		f.Channel = unify.ChannelKind(form.Channel)
	}
	for _, tf := range []struct {
		name string
		in   string
		dst  *time.Time
	}{{"since", form.Since, &f.Since}, {"until", form.Until, &f.Until}} {
		if tf.in == "" {
			continue
		}
		t, err := time.Parse(formMinute, tf.in)
		if err != nil {
			t, err = time.Parse(formSecond, tf.in)
		}
		if err != nil {
			errs[tf.name] = "must be a date and time such as 2026-11-25T12:00 (UTC)"
			continue
		}
		*tf.dst = t
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		errs["until"] = "must be after From"
	}
	if c, ok := parseCursor(q.Get("before")); ok {
		f.Before = c
	} else if c, ok := parseCursor(q.Get("after")); ok {
		f.After = c
	}
	return form, f, errs
}

func dropSeparators(r rune) rune {
	switch r {
	case ' ', '-', '.', '(', ')', '\u00a0':
		return -1
	}
	return r
}

// A cursor travels in the URL as "<created_at in unix microseconds>-<id>".
func formatCursor(c *sqlstore.TrafficCursor) string {
	return strconv.FormatInt(c.CreatedAt.UnixMicro(), 10) + "-" + string(c.ID)
}

func parseCursor(s string) (*sqlstore.TrafficCursor, bool) {
	us, id, ok := strings.Cut(s, "-")
	if !ok || id == "" {
		return nil, false
	}
	n, err := strconv.ParseInt(us, 10, 64)
	if err != nil {
		return nil, false
	}
	return &sqlstore.TrafficCursor{CreatedAt: time.UnixMicro(n).UTC(), ID: unify.MessageID(id)}, true
}

type trafficView struct {
	Form       trafficForm
	Errors     map[string]string
	Messages   []sqlstore.MessageSummary
	NewestURL  string
	NewerURL   string
	OlderURL   string
	Statuses   []unify.Status
	Channels   []unify.ChannelKind
	Senders    []string
	Counters   counters
	ByStatus   chartView
	ByChannel  chartView
	Now        time.Time
	HourWindow string
}

type counters struct {
	Total, Delivered, Failed, InFlight, PendingEvents int
}

func (h *handler) trafficPage(c echo.Context) error {
	ctx := c.Request().Context()
	form, f, errs := parseTrafficFilter(c.QueryParams())
	v := trafficView{Form: form, Errors: errs, Statuses: messageStatuses, Channels: channels, Senders: h.cfg.Senders, Now: h.now().UTC()}
	if len(errs) == 0 {
		page, err := h.cfg.Traffic.TrafficMessages(ctx, f)
		if err != nil {
			return h.fail(c, err)
		}
		v.Messages = page.Messages
		base := form.query()
		link := func(key string, cur *sqlstore.TrafficCursor) string {
			q := url.Values{}
			for k, vs := range base {
				q[k] = vs
			}
			q.Set(key, formatCursor(cur))
			return "/ui/traffic?" + q.Encode()
		}
		if page.Newer != nil {
			v.NewerURL = link("after", page.Newer)
			v.NewestURL = "/ui/traffic?" + base.Encode()
		}
		if page.Older != nil {
			v.OlderURL = link("before", page.Older)
		}
	}
	// The last hour, as whole minutes: the current minute is the last bar.
	end := v.Now.Truncate(time.Minute).Add(time.Minute)
	start := end.Add(-time.Hour)
	buckets, err := h.cfg.Traffic.TrafficBuckets(ctx, start, end)
	if err != nil {
		return h.fail(c, err)
	}
	for _, b := range buckets {
		v.Counters.Total += b.Count
		switch b.Status {
		case unify.StatusDelivered, unify.StatusRead:
			v.Counters.Delivered += b.Count
		case unify.StatusFailed:
			v.Counters.Failed += b.Count
		default:
			v.Counters.InFlight += b.Count
		}
	}
	if v.Counters.PendingEvents, err = h.cfg.Traffic.PendingEvents(ctx); err != nil {
		return h.fail(c, err)
	}
	v.HourWindow = start.Format("15:04") + "–" + end.Format("15:04") + " UTC"
	v.ByStatus = buildChart("chart-status", "Messages per minute by status", start, buckets, statusSeries, func(b sqlstore.TrafficBucket) string { return string(b.Status) })
	v.ByChannel = buildChart("chart-channel", "Messages per minute by channel", start, buckets, channelSeries, func(b sqlstore.TrafficBucket) string { return string(b.Channel) })
	status := http.StatusOK
	if len(errs) > 0 {
		status = http.StatusBadRequest
	}
	return h.render(c, status, "traffic", "Traffic", v)
}

// timelineItem is one line of a message's history.
type timelineItem struct {
	At      time.Time
	Kind    string // accepted, attempt, event, reply
	Attempt *sqlstore.AttemptRecord
	Event   *eventView
	Reply   *sqlstore.InboundReply
}

type eventView struct {
	ID        string
	Type      string
	Status    string
	Delivered bool
	Delivery  string
	Body      string
}

type messageView struct {
	Message  *unify.Message
	Kind     string
	Content  string // indented JSON
	Timeline []timelineItem
}

func (h *handler) messagePage(c echo.Context) error {
	tl, err := h.cfg.Traffic.MessageTimeline(c.Request().Context(), unify.MessageID(c.Param("id")))
	if err != nil {
		return h.fail(c, err)
	}
	m := tl.Message
	v := messageView{Message: m}
	if m.Content.Text != "" || m.Content.Kind() != unify.KindText || len(m.Content.Suggestions) > 0 {
		v.Kind = string(m.Content.Kind())
		b, _ := json.MarshalIndent(m.Content, "", "  ")
		v.Content = string(b)
	}
	v.Timeline = append(v.Timeline, timelineItem{At: m.CreatedAt, Kind: "accepted"})
	for i := range tl.Attempts {
		v.Timeline = append(v.Timeline, timelineItem{At: tl.Attempts[i].StartedAt, Kind: "attempt", Attempt: &tl.Attempts[i]})
	}
	for _, e := range tl.Events {
		v.Timeline = append(v.Timeline, timelineItem{At: e.CreatedAt, Kind: "event", Event: eventViewOf(e)})
	}
	for i := range tl.Replies {
		v.Timeline = append(v.Timeline, timelineItem{At: tl.Replies[i].At, Kind: "reply", Reply: &tl.Replies[i]})
	}
	// Stable: at equal times the order above (accepted, attempts, events,
	// replies) is the order things happen in.
	slices.SortStableFunc(v.Timeline, func(a, b timelineItem) int { return a.At.Compare(b.At) })
	return h.render(c, http.StatusOK, "message", "Message "+string(m.ID), v)
}

func eventViewOf(e sqlstore.EventRecord) *eventView {
	v := &eventView{ID: e.ID, Type: e.Type}
	var body struct {
		Status string `json:"status"`
		Text   string `json:"text"`
	}
	if json.Unmarshal(e.Body, &body) == nil {
		v.Status = body.Status
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, e.Body, "", "  ") == nil {
		v.Body = pretty.String()
	} else {
		v.Body = string(e.Body)
	}
	switch {
	case !e.DeliveredAt.IsZero():
		v.Delivered = true
		v.Delivery = "delivered to the back end at " + fmtTime(e.DeliveredAt)
		if e.Attempts > 1 {
			v.Delivery += fmt.Sprintf(" after %d tries", e.Attempts)
		}
	case e.Attempts == 0:
		v.Delivery = "waiting to be delivered to the back end"
	default:
		v.Delivery = fmt.Sprintf("not delivered yet: %d tries", e.Attempts)
		if e.LastError != "" {
			v.Delivery += ", last error: " + e.LastError
		}
	}
	return v
}

func (h *handler) carriersPage(c echo.Context) error {
	var list []CarrierStatus
	if h.cfg.Carriers != nil {
		list = h.cfg.Carriers()
	}
	return h.render(c, http.StatusOK, "carriers", "Carriers", struct {
		Carriers []CarrierStatus
		Now      time.Time
	}{list, h.now().UTC()})
}

func (h *handler) simPage(c echo.Context) error {
	if h.cfg.Handset == nil {
		return h.render(c, http.StatusNotFound, "error", "Handset", "No simulated carrier is configured, so there is no handset to show. Run the demo (go run ./cmd/gateway) to get one.")
	}
	return h.render(c, http.StatusOK, "sim", "Handset", "/sim"+h.cfg.HandsetPath)
}
