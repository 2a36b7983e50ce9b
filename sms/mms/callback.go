package mms

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"gateway/unify"
)

// Request is a request from an MMSC to the gateway, read namespace-aware
// from its SOAP envelope (any prefix, any REL-*-MM7-* namespace).
type Request struct {
	// Operation is the local name of the Body's element: DeliveryReportReq,
	// DeliverReq, ReadReplyReq…
	Operation     string
	TransactionID string
	Namespace     string // of the operation element; the answer uses it
	Version       string // its MM7Version
	Report        *Report
	Deliver       *Deliver
}

// Report is a DeliveryReportReq (mm7.md §6).
type Report struct {
	MessageID  string
	Recipient  string
	Sender     string
	MMStatus   string
	StatusText string    // StatusText, or Rel-6's MMStatusText
	Date       time.Time // zero when absent or unreadable
}

// Deliver is a DeliverReq, an MO MMS (mm7.md §7).
type Deliver struct {
	LinkedID  string
	MessageID string
	Sender    string
	Recipient string // the first To (else Cc, Bcc)
	Subject   string
	TimeStamp time.Time
	// Parts are the MM's content parts, the SMIL included, in body order and
	// transfer-decoded.
	Parts []Attachment
}

// Attachment is one part of an MO MMS.
type Attachment struct {
	ContentType string // media type, lower-case, without parameters
	Charset     string
	ContentID   string
	Location    string
	Data        []byte
}

// ParseRequest reads an MMSC's HTTP request body: a SOAP envelope (text/xml)
// or a multipart/related holding one and the MM's content. It checks the
// structure only; ReceiptOf and InboundOf judge the fields.
func ParseRequest(contentType string, body []byte) (*Request, error) {
	soap, parts, err := splitMessage(contentType, body)
	if err != nil {
		return nil, err
	}
	env, err := parseEnvelope(soap)
	if err != nil {
		return nil, err
	}
	if env.fault != nil {
		return nil, errors.New("mms: a SOAP Fault is not a request")
	}
	op := env.op
	req := &Request{Operation: op.name.Local, TransactionID: env.transactionID, Namespace: op.name.Space, Version: op.value("MM7Version")}
	switch req.Operation {
	case "DeliveryReportReq":
		r := &Report{
			MessageID: op.value("MessageID"), Recipient: addressOf(op.child("Recipient")), Sender: addressOf(op.child("Sender")),
			MMStatus: op.value("MMStatus"), StatusText: op.value("StatusText"), Date: parseDateTime(op.value("Date")),
		}
		if r.StatusText == "" {
			r.StatusText = op.value("MMStatusText")
		}
		req.Report = r
	case "DeliverReq":
		d := &Deliver{
			LinkedID: op.value("LinkedID"), MessageID: op.value("MessageID"), Sender: addressOf(op.child("Sender")),
			Subject: op.value("Subject"), TimeStamp: parseDateTime(op.value("TimeStamp")),
		}
		if rs := op.child("Recipients"); rs != nil {
			for _, kind := range []string{"To", "Cc", "Bcc"} {
				if a := addressOf(rs.child(kind)); a != "" {
					d.Recipient = a
					break
				}
			}
		}
		for _, p := range parts {
			d.Parts = append(d.Parts, Attachment{ContentType: p.ctype, Charset: p.params["charset"], ContentID: p.contentID, Location: p.location, Data: p.data})
		}
		req.Deliver = d
	}
	return req, nil
}

// addressOf reads an address element's Number, ShortCode or RFC2822Address.
func addressOf(n *node) string {
	if n == nil {
		return ""
	}
	for _, k := range n.kids {
		if v := strings.TrimSpace(k.text.String()); v != "" {
			return v
		}
	}
	return strings.TrimSpace(n.text.String())
}

// parseDateTime reads an xs:dateTime; one without a zone is taken as UTC.
func parseDateTime(s string) time.Time {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05Z0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// ReceiptOf turns a DeliveryReportReq into a receipt for the message the
// MMSC called MessageID (mm7.md §6). record is false for reports that settle
// nothing, which are acknowledged and dropped:
//
//	Retrieved, Forwarded             delivered (a forward reached the phone)
//	Expired                          expired (the core treats it as failed)
//	Rejected, Unrecognised           failed
//	Deferred                         not recorded: retrieval pending
//	Indeterminate, anything else     not recorded: the step's timeout decides
func ReceiptOf(carrier string, r *Report, now time.Time) (rc unify.Receipt, record bool, err error) {
	if r == nil || r.MessageID == "" {
		return unify.Receipt{}, false, errors.New("mms: DeliveryReportReq without MessageID")
	}
	rc = unify.Receipt{Channel: unify.ChannelMMS, Carrier: carrier, Ref: refOf(r.MessageID), At: r.Date}
	if rc.At.IsZero() {
		rc.At = now
	}
	switch strings.ToLower(r.MMStatus) {
	case "retrieved", "forwarded":
		rc.Status = unify.StatusDelivered
	case "expired":
		rc.Status = unify.StatusExpired
	case "rejected", "unrecognised", "unrecognized":
		rc.Status = unify.StatusFailed
	default:
		return rc, false, nil
	}
	if rc.Status != unify.StatusDelivered {
		rc.Error = r.MMStatus
		if r.StatusText != "" {
			rc.Error += ": " + r.StatusText
		}
	}
	return rc, true, nil
}

// InboundOf turns a DeliverReq into an inbound message. Its text/plain parts,
// decoded by charset, are the text (joined by newlines; the Subject when
// there are none). Every other part but the SMIL is a file in Media: the
// gateway keeps no media store and a data: URL would put the file in every
// event and log, so each is Media{URL: "", MimeType: "image/jpeg; size=48213"},
// the type carrying the decoded size in bytes as a parameter (the back end
// learns what was sent; mime.ParseMediaType reads it back).
//
// From is the Sender in E.164 ('+' added to international digits, "/TYPE=PLMN"
// dropped); To is the recipient (our short code or number) as the MMSC wrote
// it. ExternalID is the LinkedID (else MessageID) for de-duplication of
// retried requests. A STOP in the text is the core's business.
func InboundOf(carrier string, d *Deliver, now time.Time) (unify.Inbound, error) {
	if d == nil || d.Sender == "" {
		return unify.Inbound{}, errors.New("mms: DeliverReq without Sender")
	}
	in := unify.Inbound{
		ExternalID: d.LinkedID, Channel: unify.ChannelMMS, Carrier: carrier,
		From: phoneNumber(d.Sender), To: cleanAddress(d.Recipient), At: d.TimeStamp,
	}
	if in.ExternalID == "" {
		in.ExternalID = d.MessageID
	}
	if in.At.IsZero() {
		in.At = now
	}
	var texts []string
	for _, p := range d.Parts {
		switch {
		case p.ContentType == "application/smil":
		case p.ContentType == "text/plain":
			if t := strings.TrimSpace(decodeText(p.Data, p.Charset)); t != "" {
				texts = append(texts, t)
			}
		default:
			in.Media = append(in.Media, unify.Media{MimeType: mime.FormatMediaType(p.ContentType, map[string]string{"size": strconv.Itoa(len(p.Data))})})
		}
	}
	in.Text = strings.Join(texts, "\n")
	if in.Text == "" {
		in.Text = d.Subject
	}
	return in, nil
}

// cleanAddress drops the "/TYPE=PLMN" suffix of MMS addresses (OMA MMS
// encapsulation; some MMSCs copy it into MM7).
func cleanAddress(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, "/TYPE="); i >= 0 {
		s = s[:i]
	}
	return s
}

// phoneNumber writes a sender as E.164 when it is an international number:
// MMSCs send "33612345678" or "+33612345678". A national number (leading
// 0), a short code or anything else is passed on as it came.
func phoneNumber(s string) string {
	s = cleanAddress(s)
	digits := strings.TrimPrefix(s, "+")
	if isDigits(digits) && len(digits) >= 8 && digits[0] != '0' {
		return "+" + digits
	}
	return s
}

const xmlType = "text/xml; charset=utf-8"

// HandleCallback is the logic of POST /webhooks/mm7/{carrier}: it reads a
// DeliveryReportReq or DeliverReq, hands the receipt or inbound message to
// the sink, and returns the HTTP answer. The answer is the operation's …Rsp
// with StatusCode 1000 echoing the TransactionID, in the request's
// namespace; a malformed request gets a SOAP Fault with a VASPErrorRsp 2007
// (Client), an operation the gateway does not handle 4003, and a sink error
// 3000 (Server) so that the MMSC retries. Faults go with HTTP 500 as SOAP 1.1
// requires. ReadReplyReq (never asked for) is acknowledged and dropped. An
// unknown carrier is 404, and wrong credentials 401 when the carrier has
// CallbackUsername set.
func (c *Channel) HandleCallback(ctx context.Context, carrier string, header http.Header, body []byte) (status int, contentType string, resp []byte) {
	cc, ok := c.carriers[carrier]
	if !ok {
		return http.StatusNotFound, "text/plain; charset=utf-8", []byte("mms: no MM7 carrier named " + strconv.Quote(carrier) + "\n")
	}
	if cc.CallbackUsername != "" && !basicAuthOK(header, cc.CallbackUsername, cc.CallbackPassword) {
		c.metrics.callbacks.WithLabelValues(carrier, "other", "unauthorized").Inc()
		return http.StatusUnauthorized, "text/plain; charset=utf-8", []byte("mms: wrong or missing credentials\n")
	}
	ns, version, txID := cc.Namespace, cc.Version, ""
	req, err := ParseRequest(header.Get("Content-Type"), body)
	if err == nil {
		txID = req.TransactionID
		if req.Namespace != "" {
			ns = req.Namespace
		}
		if req.Version != "" {
			version = req.Version
		}
	}
	fault := func(op, result string, st mm7Status, err error) (int, string, []byte) {
		c.metrics.callbacks.WithLabelValues(carrier, opLabel(op), result).Inc()
		c.log.Warn("MM7 request refused", "carrier", carrier, "channel", unify.ChannelMMS, "operation", op, "status", st.Code, "err", err)
		return http.StatusInternalServerError, xmlType, faultEnvelope(ns, version, txID, st)
	}
	answer := func(op, result string) (int, string, []byte) {
		c.metrics.callbacks.WithLabelValues(carrier, opLabel(op), result).Inc()
		rsp := strings.TrimSuffix(op, "Req") + "Rsp"
		return http.StatusOK, xmlType, responseEnvelope(rsp, ns, version, txID, StatusSuccess, "Success")
	}
	if err != nil {
		return fault("", "fault", mm7Status{Code: StatusFormatCorrupt, Text: "Message format corrupt", Details: err.Error()}, err)
	}
	op := req.Operation
	switch op {
	case "DeliveryReportReq":
		rc, record, err := ReceiptOf(carrier, req.Report, c.now())
		if err != nil {
			return fault(op, "fault", mm7Status{Code: StatusFormatCorrupt, Text: "Message format corrupt", Details: err.Error()}, err)
		}
		if !record {
			c.log.Debug("MM7 delivery report ignored", "carrier", carrier, "external_id", rc.Ref.ID, "mm_status", req.Report.MMStatus)
			return answer(op, "ignored")
		}
		if err := c.sink.HandleReceipt(ctx, rc); err != nil {
			return fault(op, "retry", mm7Status{Code: StatusServerError, Text: "Server Error"}, err)
		}
		return answer(op, "ok")
	case "DeliverReq":
		in, err := InboundOf(carrier, req.Deliver, c.now())
		if err != nil {
			return fault(op, "fault", mm7Status{Code: StatusFormatCorrupt, Text: "Message format corrupt", Details: err.Error()}, err)
		}
		if err := c.sink.HandleInbound(ctx, in); err != nil {
			return fault(op, "retry", mm7Status{Code: StatusServerError, Text: "Server Error"}, err)
		}
		return answer(op, "ok")
	case "ReadReplyReq":
		return answer(op, "ignored")
	}
	return fault(op, "fault", mm7Status{Code: StatusUnsupportedOp, Text: "Unsupported operation", Details: op},
		fmt.Errorf("mms: unsupported operation %s", op))
}

// opLabel keeps the operation label of the metrics to known names: the
// request decides the operation, and labels must not grow without bound.
func opLabel(op string) string {
	switch op {
	case "DeliveryReportReq", "DeliverReq", "ReadReplyReq":
		return op
	}
	return "other"
}

func basicAuthOK(h http.Header, user, pass string) bool {
	r := http.Request{Header: h}
	u, p, ok := r.BasicAuth()
	// Both compared in full, so the time taken does not tell which was wrong.
	okU := subtle.ConstantTimeCompare([]byte(u), []byte(user))
	okP := subtle.ConstantTimeCompare([]byte(p), []byte(pass))
	return ok && okU&okP == 1
}
