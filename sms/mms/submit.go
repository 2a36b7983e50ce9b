package mms

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"

	"gateway/unify"
)

// maxResponseSize bounds what is read of an MMSC's answer.
const maxResponseSize = 1 << 20

// Send lays the message out (as Render does, within the smaller of the
// carrier's and the policy's size limit), submits it to the carrier's MMSC
// as an MM7 SubmitReq asking for a delivery report, and returns the MMSC's
// MessageID as the attempt's single part. The transaction id is the attempt
// id. Failures are *unify.SendError:
//
//   - not capable: the carrier has no MM7 link;
//   - invalid content: nothing an MMS can carry, media refused or too large,
//     or MM7 status 2004 (content refused);
//   - rejected: the recipient is not an E.164 number, other 2xxx statuses,
//     3002, 3003, 4001–4004 and 4007 (identification, version, operation,
//     validation, denial: retrying will not help), HTTP 4xx without a SOAP
//     answer;
//   - throttled: HTTP 429;
//   - temporary: network errors, timeouts, HTTP 5xx without a SOAP answer,
//     other 3xxx and 4xxx statuses, and answers that cannot be read (the
//     MMSC may or may not have taken the message).
func (c *Channel) Send(ctx context.Context, m *unify.Message, a *unify.Attempt, p *unify.Policy) (unify.SendResult, error) {
	cc, ok := c.carriers[a.Carrier]
	if !ok || cc.URL == "" {
		return unify.SendResult{}, c.failed(a.Carrier, &unify.SendError{Kind: unify.ErrNotCapable, Err: fmt.Errorf("mms: carrier %s has no MM7 link", a.Carrier)})
	}
	if reason := skipReason(&m.Content); reason != "" {
		return unify.SendResult{}, c.failed(a.Carrier, invalid("%s", reason))
	}
	if !unify.LooksE164(m.To) {
		return unify.SendResult{}, c.failed(a.Carrier, &unify.SendError{Kind: unify.ErrRejected, Err: fmt.Errorf("mms: recipient %s is not an E.164 number", m.To)})
	}
	comp, err := c.compose(ctx, m, p, maxSize(cc, p))
	if err != nil {
		return unify.SendResult{}, c.failed(a.Carrier, err)
	}
	txID := string(a.ID)
	if txID == "" {
		txID = string(unify.NewAttemptID())
	}
	req := &submitReq{
		Namespace: cc.Namespace, Version: cc.Version, TransactionID: txID,
		VASPID: cc.VASPID, VASID: cc.VASID, Sender: senderAddress(c.senders[m.From], cc.PlusNumbers),
		To: address{kind: "Number", value: number(m.To, cc.PlusNumbers)}, ServiceCode: cc.ServiceCode,
		TimeStamp: c.now(), Subject: comp.subject, ContentID: contentCID,
	}
	body, ctype, err := submitBody(req.envelope(), comp)
	if err != nil {
		return unify.SendResult{}, c.failed(a.Carrier, &unify.SendError{Kind: unify.ErrTemporary, Err: err})
	}
	id, err := c.post(ctx, a.Carrier, cc, body, ctype)
	if err != nil {
		return unify.SendResult{}, c.failed(a.Carrier, err)
	}
	c.metrics.submits.WithLabelValues(a.Carrier, "ok").Inc()
	if id == "" {
		// Nothing to match a DeliveryReportReq with: the step's timeout
		// decides what happens next.
		c.log.Warn("SubmitRsp without MessageID", "msg_id", m.ID, "channel", unify.ChannelMMS, "carrier", a.Carrier)
	}
	return unify.SendResult{Segments: 1, Parts: []unify.Part{{Seq: 1, Status: unify.StatusSent, Ref: refOf(id)}}}, nil
}

// refOf is the reference a receipt for MMSC message id is matched by, the
// same for the SubmitRsp and the DeliveryReportReq.
func refOf(id string) unify.ExternalRef {
	return unify.ExternalRef{ID: id, Raw: strings.ToLower(id)}
}

func (c *Channel) failed(carrier string, err error) error {
	result := "temporary"
	switch unify.SendKind(err) {
	case unify.ErrNotCapable:
		result = "not_capable"
	case unify.ErrThrottled:
		result = "throttled"
	case unify.ErrRejected:
		result = "rejected"
	case unify.ErrInvalidContent:
		result = "invalid_content"
	}
	c.metrics.submits.WithLabelValues(carrier, result).Inc()
	return err
}

// post sends a SubmitReq and reads the MMSC's answer.
func (c *Channel) post(ctx context.Context, carrier string, cc CarrierConfig, body []byte, ctype string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cc.URL, bytes.NewReader(body))
	if err != nil {
		return "", &unify.SendError{Kind: unify.ErrNotCapable, Err: fmt.Errorf("mms: carrier %s: %w", carrier, err)}
	}
	req.Header.Set("Content-Type", ctype)
	// mm7.md §2: samples send an empty SOAPAction; MMSCs accept it.
	req.Header.Set("SOAPAction", `""`)
	if cc.Username != "" || cc.Password != "" {
		req.SetBasicAuth(cc.Username, cc.Password)
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	c.metrics.latency.WithLabelValues(carrier).Observe(time.Since(start).Seconds())
	if err != nil {
		return "", &unify.SendError{Kind: unify.ErrTemporary, Err: fmt.Errorf("mms: submit to %s: %w", carrier, err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseSize))
	if err != nil {
		return "", &unify.SendError{Kind: unify.ErrTemporary, Err: fmt.Errorf("mms: submit to %s: reading the answer: %w", carrier, err)}
	}
	return readSubmitRsp(resp.StatusCode, resp.Header.Get("Content-Type"), data)
}

// readSubmitRsp reads an MMSC's answer to a SubmitReq. A SOAP body decides
// whatever the HTTP status (SOAP 1.1 sends Faults with 500, some MMSCs with
// 200: mm7.md §2); only without one does the HTTP status speak.
func readSubmitRsp(httpStatus int, ctype string, body []byte) (string, error) {
	if httpStatus == http.StatusTooManyRequests {
		return "", &unify.SendError{Kind: unify.ErrThrottled, Code: "HTTP 429", Err: errors.New("mms: the MMSC asked to slow down")}
	}
	env, err := func() (*envelope, error) {
		soap, _, err := splitMessage(ctype, body)
		if err != nil {
			return nil, err
		}
		return parseEnvelope(soap)
	}()
	if err == nil && env.fault == nil && env.op.name.Local != "SubmitRsp" {
		err = fmt.Errorf("mms: the MMSC answered %s, not SubmitRsp", env.op.name.Local)
	}
	if err != nil {
		code := "HTTP " + strconv.Itoa(httpStatus)
		switch {
		case httpStatus >= 400 && httpStatus < 500 && httpStatus != http.StatusRequestTimeout:
			return "", &unify.SendError{Kind: unify.ErrRejected, Code: code, Err: fmt.Errorf("mms: the MMSC refused the request: %w", err)}
		default:
			return "", &unify.SendError{Kind: unify.ErrTemporary, Code: code, Err: fmt.Errorf("mms: unreadable answer: %w", err)}
		}
	}
	if env.fault != nil {
		return "", statusError(faultStatus(env.fault))
	}
	st, ok := statusOf(env.op.child("Status"))
	if !ok {
		return "", &unify.SendError{Kind: unify.ErrTemporary, Err: errors.New("mms: SubmitRsp without a StatusCode")}
	}
	if st.Code/1000 == 1 {
		return env.op.value("MessageID"), nil
	}
	return "", statusError(st)
}

// statusError classifies an MM7 error status (mm7.md §8).
func statusError(st mm7Status) error {
	kind := unify.ErrTemporary
	switch {
	case st.Code == StatusContentRefused:
		kind = unify.ErrInvalidContent
	case st.Code/1000 == 2:
		kind = unify.ErrRejected
	case st.Code == StatusRejected, st.Code == StatusMultipleAddrs:
		// A refusal of this message, and we only ever send one recipient.
		kind = unify.ErrRejected
	case st.Code >= 4001 && st.Code <= 4004, st.Code == 4007:
		// Identification, version, operation, validation, denial: our
		// configuration or request is wrong and will stay wrong.
		kind = unify.ErrRejected
	}
	return &unify.SendError{Kind: kind, Code: strconv.Itoa(st.Code), Err: fmt.Errorf("mms: the MMSC answered %s", st)}
}

// submitBody writes the HTTP body of a SubmitReq (mm7.md §9): a
// multipart/related whose start is the SOAP envelope and whose second part,
// named by the envelope's Content href, is itself a multipart/related of the
// SMIL (its start), the media (base64) and the texts (UTF-8).
func submitBody(env []byte, comp *composition) ([]byte, string, error) {
	var inner bytes.Buffer
	iw := multipart.NewWriter(&inner)
	w, err := iw.CreatePart(partHeader("application/smil; charset=utf-8", smilCID, "", ""))
	if err != nil {
		return nil, "", err
	}
	if _, err := io.WriteString(w, comp.smil); err != nil {
		return nil, "", err
	}
	for _, p := range comp.parts {
		if p.text {
			w, err = iw.CreatePart(partHeader("text/plain; charset=utf-8", p.cid, p.location, ""))
			if err == nil {
				_, err = w.Write(p.data)
			}
		} else {
			w, err = iw.CreatePart(partHeader(p.ctype, p.cid, p.location, "base64"))
			if err == nil {
				err = writeBase64(w, p.data)
			}
		}
		if err != nil {
			return nil, "", err
		}
	}
	if err := iw.Close(); err != nil {
		return nil, "", err
	}

	var outer bytes.Buffer
	ow := multipart.NewWriter(&outer)
	w, err = ow.CreatePart(partHeader("text/xml; charset=utf-8", soapStartCID, "", ""))
	if err != nil {
		return nil, "", err
	}
	if _, err := w.Write(env); err != nil {
		return nil, "", err
	}
	innerType := `multipart/related; boundary="` + iw.Boundary() + `"; type="application/smil"; start="<` + smilCID + `>"`
	w, err = ow.CreatePart(partHeader(innerType, contentCID, "", ""))
	if err != nil {
		return nil, "", err
	}
	if _, err := w.Write(inner.Bytes()); err != nil {
		return nil, "", err
	}
	if err := ow.Close(); err != nil {
		return nil, "", err
	}
	ctype := `multipart/related; boundary="` + ow.Boundary() + `"; type="text/xml"; start="<` + soapStartCID + `>"`
	return outer.Bytes(), ctype, nil
}

// number writes an E.164 number as the MMSC wants it.
func number(e164 string, plus bool) string {
	if plus {
		return e164
	}
	return strings.TrimPrefix(e164, "+")
}

// senderAddress types a sender's MMS address: an e-mail address is an
// RFC2822Address, '+' and digits or more than 8 digits a Number, anything
// else (a short code) a ShortCode. nil leaves the choice to the MMSC.
func senderAddress(s string, plus bool) *address {
	s = strings.TrimSpace(s)
	digits := strings.TrimPrefix(s, "+")
	switch {
	case s == "":
		return nil
	case strings.Contains(s, "@"):
		return &address{kind: "RFC2822Address", value: s}
	case isDigits(digits) && (strings.HasPrefix(s, "+") || len(digits) > 8):
		return &address{kind: "Number", value: number("+"+digits, plus)}
	}
	return &address{kind: "ShortCode", value: s}
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
