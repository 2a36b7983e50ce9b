package sim

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Namespaces and versions of mm7.md §1.
const (
	// SOAPEnvNS is the SOAP 1.1 envelope namespace.
	SOAPEnvNS = "http://schemas.xmlsoap.org/soap/envelope/"
	// DefaultMM7Namespace is the REL-6-MM7-1-4 schema namespace.
	DefaultMM7Namespace = "http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-6-MM7-1-4"
	// DefaultMM7Version is the MM7Version that goes with DefaultMM7Namespace.
	DefaultMM7Version = "6.8.0"
)

// mm7NSRe matches every REL-x-MM7-y-z schema namespace; the release number
// must agree with the major number of MM7Version.
var (
	mm7NSRe      = regexp.MustCompile(`^http://www\.3gpp\.org/ftp/Specs/archive/23_series/23\.140/schema/REL-([0-9]+)-MM7-[0-9]+-[0-9]+$`)
	mm7VersionRe = regexp.MustCompile(`^([0-9]+)\.[0-9]+\.[0-9]+$`)
	msisdnRe     = regexp.MustCompile(`^\+?[0-9]{3,20}$`)
	shortCodeRe  = regexp.MustCompile(`^[0-9A-Za-z]{1,20}$`)
)

// mm7StatusText is the StatusText of each MM7 status code (mm7.md §8).
var mm7StatusText = map[int]string{
	1000: "Success", 1100: "Partial success",
	2000: "Client error", 2001: "Operation restricted", 2002: "Address Error", 2003: "Address Not Found",
	2004: "Multimedia content refused", 2005: "Message ID Not found", 2006: "LinkedID not found",
	2007: "Message format corrupt",
	3000: "Server Error", 3001: "Not Possible", 3002: "Message rejected", 3003: "Multiple addresses not supported",
	4000: "General service error", 4001: "Improper identification", 4002: "Unsupported version",
	4003: "Unsupported operation", 4004: "Validation error", 4005: "Service error", 4006: "Service unavailable",
	4007: "Service denied",
}

// mm7Reports are the MMStatus values of a DeliveryReportReq (mm7.md §6)
// with their StatusText.
var mm7Reports = map[string]string{
	"Retrieved": "Success", "Forwarded": "Forwarded", "Expired": "Message expired",
	"Rejected": "Message rejected", "Unrecognised": "Recipient not recognised",
	"Deferred": "Retrieval deferred", "Indeterminate": "Status indeterminate",
}

// submitReqElements are the children a SubmitReq may have (mm7.md §4).
var submitReqElements = []string{
	"MM7Version", "SenderIdentification", "Recipients", "ServiceCode", "LinkedID", "MessageClass",
	"TimeStamp", "ReplyCharging", "EarliestDeliveryTime", "ExpiryDate", "DeliveryReport", "ReadReply",
	"Priority", "Subject", "ChargedParty", "ChargedPartyID", "DistributionIndicator", "DeliveryCondition",
	"ApplicID", "ReplyApplicID", "AuxApplicInfo", "ContentClass", "DRMContent", "Content",
}

// MM7Address is an address of an MM7 request.
type MM7Address struct {
	Field string `json:"field,omitempty"` // To, Cc or Bcc; "" for a sender
	Kind  string `json:"kind"`            // Number, ShortCode or RFC2822Address
	Value string `json:"value"`
}

// MMSPart is one part of an MMS's content (SMIL excluded).
type MMSPart struct {
	ContentType     string `json:"content_type"` // the header as sent, parameters included
	ContentID       string `json:"content_id,omitempty"`
	ContentLocation string `json:"content_location,omitempty"`
	Size            int    `json:"size"` // decoded bytes
	Data            []byte `json:"data"` // decoded (base64 in JSON)
}

// MMS is a SubmitReq accepted by the MM7 relay.
type MMS struct {
	MessageID      string       `json:"message_id"`
	TransactionID  string       `json:"transaction_id"`
	Namespace      string       `json:"namespace"`
	MM7Version     string       `json:"mm7_version"`
	VASPID         string       `json:"vasp_id"`
	VASID          string       `json:"vas_id"`
	Sender         *MM7Address  `json:"sender,omitempty"`
	Recipients     []MM7Address `json:"recipients"`
	Subject        string       `json:"subject,omitempty"`
	LinkedID       string       `json:"linked_id,omitempty"`
	ServiceCode    string       `json:"service_code,omitempty"`
	DeliveryReport bool         `json:"delivery_report"`
	SMIL           string       `json:"smil"`
	Parts          []MMSPart    `json:"parts"`
	// Status is the MMStatus of the last DeliveryReportReq, "" before any.
	Status string    `json:"status"`
	At     time.Time `json:"at"`
	// Envelope is the SOAP part as received.
	Envelope string `json:"envelope"`
}

// mm7State is the MM7 side of the Sim, guarded by Sim.mu.
type mm7State struct {
	callbackURL     string
	nextID, tidSeq  uint64
	msgs            []*MMS
	byID            map[string]*MMS
	failN, failCode int
}

func (s *Sim) initMM7() {
	s.mm7 = mm7State{callbackURL: s.cfg.MM7CallbackURL, nextID: 4_100_000_000, byID: map[string]*MMS{}}
}

func (s *Sim) resetMM7Locked() {
	s.mm7.msgs = nil
	s.mm7.byID = map[string]*MMS{}
}

// SetMM7Callback sets the gateway's MM7 webhook URL.
func (s *Sim) SetMM7Callback(url string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mm7.callbackURL = url
}

// MM7Fail makes the next n requests to /mm7 answer a SOAP Fault with status
// code (3000, 4006, …) once they have been parsed.
func (s *Sim) MM7Fail(n, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mm7.failN, s.mm7.failCode = max(n, 0), code
}

// MMSMessages returns a copy of the accepted MMS in arrival order. Byte
// slices are shared with the Sim and must not be modified.
func (s *Sim) MMSMessages() []MMS {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]MMS, len(s.mm7.msgs))
	for i, m := range s.mm7.msgs {
		out[i] = *m
	}
	return out
}

// MM7Report sends a DeliveryReportReq with MMStatus status (Retrieved,
// Forwarded, Expired, Rejected, Unrecognised, Deferred or Indeterminate) for
// every recipient of MMS messageID, retried until a DeliveryReportRsp with a
// 1xxx status echoes its TransactionID.
func (s *Sim) MM7Report(messageID, status string) error {
	if _, ok := mm7Reports[status]; !ok {
		return fmt.Errorf("sim: mm7 report: unknown MMStatus %q", status)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.mm7.byID[messageID]
	if m == nil {
		return fmt.Errorf("%w: %q", errUnknownMessage, messageID)
	}
	return s.mm7ReportLocked(m, status)
}

func (s *Sim) mm7ReportLocked(m *MMS, status string) error {
	if s.mm7.callbackURL == "" {
		return errNoCallbackURL
	}
	for _, rc := range m.Recipients {
		var b strings.Builder
		fmt.Fprintf(&b, `<DeliveryReportReq xmlns="%s">`, xesc(m.Namespace))
		fmt.Fprintf(&b, `<MM7Version>%s</MM7Version><MessageID>%s</MessageID>`, xesc(m.MM7Version), xesc(m.MessageID))
		fmt.Fprintf(&b, `<Recipient>%s</Recipient>`, addrXML(rc))
		if m.Sender != nil {
			fmt.Fprintf(&b, `<Sender>%s</Sender>`, addrXML(*m.Sender))
		}
		fmt.Fprintf(&b, `<Date>%s</Date><MMStatus>%s</MMStatus><StatusText>%s</StatusText>`,
			s.now().UTC().Format("2006-01-02T15:04:05.000Z"), status, xesc(mm7Reports[status]))
		b.WriteString(`</DeliveryReportReq>`)
		tid := s.nextTIDLocked()
		s.stats.MM7Reports++
		s.queueLocked(outMM7, &callback{
			url: s.mm7.callbackURL, contentType: "text/xml; charset=utf-8",
			header: http.Header{"Soapaction": {`""`}},
			body:   soapEnvelope(m.Namespace, tid, b.String()),
			ack:    mm7Ack(m.Namespace, tid, "DeliveryReportRsp"),
		})
	}
	m.Status = status
	return nil
}

// MM7DeliverMO sends a mobile-originated MMS from the handset from to the
// gateway's address to (number, short code or alphanumeric): a DeliverReq
// with a SMIL, the text and an optional image (JPEG, PNG or GIF), retried
// until a DeliverRsp with a 1xxx status echoes its TransactionID.
func (s *Sim) MM7DeliverMO(from, to, text string, image []byte) error {
	if !msisdnRe.MatchString(from) {
		return fmt.Errorf("sim: mm7 mo: from %q is not a number", from)
	}
	if to == "" {
		return errors.New("sim: mm7 mo: empty to")
	}
	if text == "" && len(image) == 0 {
		return errors.New("sim: mm7 mo: no text and no image")
	}
	imgType := ""
	if len(image) > 0 {
		imgType = http.DetectContentType(image)
		if !strings.HasPrefix(imgType, "image/") {
			return fmt.Errorf("sim: mm7 mo: image is %s, not an image", imgType)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mm7.callbackURL == "" {
		return errNoCallbackURL
	}
	ns, ver := s.cfg.MM7Namespace, s.cfg.MM7Version
	s.mm7.nextID++
	linked := strconv.FormatUint(s.mm7.nextID, 10)
	var b strings.Builder
	fmt.Fprintf(&b, `<DeliverReq xmlns="%s"><MM7Version>%s</MM7Version>`, xesc(ns), xesc(ver))
	fmt.Fprintf(&b, `<MMSRelayServerID>sim-mmsc</MMSRelayServerID><LinkedID>%s</LinkedID>`, linked)
	fmt.Fprintf(&b, `<Sender>%s</Sender>`, addrXML(MM7Address{Kind: "Number", Value: from}))
	fmt.Fprintf(&b, `<Recipients><To>%s</To></Recipients>`, addrXML(addressOf(to)))
	fmt.Fprintf(&b, `<TimeStamp>%s</TimeStamp><Content href="cid:mo-content"/></DeliverReq>`,
		s.now().UTC().Format(time.RFC3339))
	tid := s.nextTIDLocked()
	body, ctype := moMultipart(soapEnvelope(ns, tid, b.String()), text, image, imgType)
	s.stats.MM7MO++
	s.queueLocked(outMM7, &callback{
		url: s.mm7.callbackURL, contentType: ctype, header: http.Header{"Soapaction": {`""`}},
		body: body, ack: mm7Ack(ns, tid, "DeliverRsp"),
	})
	return nil
}

func (s *Sim) nextTIDLocked() string {
	s.mm7.tidSeq++
	return "sim-" + strconv.FormatUint(s.mm7.tidSeq, 10)
}

// addressOf picks the address element for a gateway address: digits are a
// Number (mm7.md §7 puts even a short code there), an e-mail address an
// RFC2822Address, anything else a ShortCode.
func addressOf(to string) MM7Address {
	switch {
	case msisdnRe.MatchString(to):
		return MM7Address{Kind: "Number", Value: to}
	case strings.Contains(to, "@"):
		return MM7Address{Kind: "RFC2822Address", Value: to}
	}
	return MM7Address{Kind: "ShortCode", Value: to}
}

func addrXML(a MM7Address) string {
	return "<" + a.Kind + ">" + xesc(a.Value) + "</" + a.Kind + ">"
}

// moMultipart builds the multipart/related body of a DeliverReq (mm7.md §9):
// the SOAP part, then the content as a multipart/related with a SMIL.
func moMultipart(envelope []byte, text string, image []byte, imgType string) ([]byte, string) {
	var inner bytes.Buffer
	iw := multipart.NewWriter(&inner)
	var smil strings.Builder
	smil.WriteString(`<smil><head><layout><root-layout width="100%" height="100%"/>`)
	smil.WriteString(`<region id="Image" left="0" top="0" width="100%" height="70%" fit="meet"/>`)
	smil.WriteString(`<region id="Text" left="0" top="70%" width="100%" height="30%" fit="scroll"/>`)
	smil.WriteString(`</layout></head><body><par dur="5000ms">`)
	if len(image) > 0 {
		smil.WriteString(`<img src="cid:img1" region="Image"/>`)
	}
	if text != "" {
		smil.WriteString(`<text src="cid:text1" region="Text"/>`)
	}
	smil.WriteString(`</par></body></smil>`)
	part := func(h textproto.MIMEHeader, data []byte) {
		w, _ := iw.CreatePart(h) // writes to a bytes.Buffer: cannot fail
		_, _ = w.Write(data)
	}
	part(textproto.MIMEHeader{"Content-Type": {"application/smil; charset=utf-8"}, "Content-Id": {"<smil>"}}, []byte(smil.String()))
	if len(image) > 0 {
		part(textproto.MIMEHeader{
			"Content-Type": {imgType}, "Content-Id": {"<img1>"}, "Content-Transfer-Encoding": {"base64"},
		}, base64Lines(image))
	}
	if text != "" {
		part(textproto.MIMEHeader{"Content-Type": {"text/plain; charset=utf-8"}, "Content-Id": {"<text1>"}}, []byte(text))
	}
	_ = iw.Close()

	var outer bytes.Buffer
	ow := multipart.NewWriter(&outer)
	w, _ := ow.CreatePart(textproto.MIMEHeader{"Content-Type": {"text/xml; charset=utf-8"}, "Content-Id": {"<soap-start>"}})
	_, _ = w.Write(envelope)
	w, _ = ow.CreatePart(textproto.MIMEHeader{
		"Content-Type": {mime.FormatMediaType("multipart/related", map[string]string{
			"boundary": iw.Boundary(), "type": "application/smil", "start": "<smil>",
		})},
		"Content-Id": {"<mo-content>"},
	})
	_, _ = w.Write(inner.Bytes())
	_ = ow.Close()
	return outer.Bytes(), mime.FormatMediaType("multipart/related", map[string]string{
		"boundary": ow.Boundary(), "type": "text/xml", "start": "<soap-start>",
	})
}

// base64Lines is base64 in lines of 76 characters (RFC 2045 §6.8).
func base64Lines(b []byte) []byte {
	enc := base64.StdEncoding.EncodeToString(b)
	var out bytes.Buffer
	for len(enc) > 76 {
		out.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	out.WriteString(enc)
	return out.Bytes()
}

// mm7Ack accepts an answer to a callback only if it is a 200 text/xml SOAP
// envelope echoing tid whose body is rsp (in ns) with a 1xxx StatusCode.
func mm7Ack(ns, tid, rsp string) func(int, http.Header, []byte) error {
	return func(code int, h http.Header, body []byte) error {
		if code != http.StatusOK {
			return fmt.Errorf("status %d", code)
		}
		if mt, _, _ := mime.ParseMediaType(h.Get("Content-Type")); mt != "text/xml" {
			return fmt.Errorf("content type %q, want text/xml", h.Get("Content-Type"))
		}
		env, err := parseXML(body)
		if err != nil {
			return err
		}
		if env.name != (xml.Name{Space: SOAPEnvNS, Local: "Envelope"}) {
			return fmt.Errorf("root %v is not a SOAP 1.1 Envelope", env.name)
		}
		if got := transactionID(env); got != tid {
			return fmt.Errorf("TransactionID %q, want %q echoed", got, tid)
		}
		b := env.child(SOAPEnvNS, "Body")
		if b == nil || len(b.kids) != 1 {
			return errors.New("SOAP Body without exactly one element")
		}
		r := b.kids[0]
		if r.name != (xml.Name{Space: ns, Local: rsp}) {
			return fmt.Errorf("answer is %v, want %s in %s", r.name, rsp, ns)
		}
		st := r.child(ns, "Status")
		if st == nil || st.child(ns, "StatusCode") == nil {
			return errors.New("answer without Status/StatusCode")
		}
		c, err := strconv.Atoi(st.child(ns, "StatusCode").value())
		if err != nil || c/1000 != 1 {
			return fmt.Errorf("StatusCode %q is not a success", st.child(ns, "StatusCode").value())
		}
		return nil
	}
}

// ---- the relay: POST /mm7 ----

func (s *Sim) routesMM7() {
	m := s.mux
	m.HandleFunc("POST /mm7", s.mm7Submit)
	m.HandleFunc("POST /control/mm7/report", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			MessageID string `json:"message_id"`
			Status    string `json:"status"`
		}
		if decode(w, r, &in) {
			okOrError(w, s.MM7Report(in.MessageID, in.Status))
		}
	})
	m.HandleFunc("POST /control/mm7/mo", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			From        string `json:"from"`
			To          string `json:"to"`
			Text        string `json:"text"`
			ImageBase64 []byte `json:"image_base64"`
		}
		if decode(w, r, &in) {
			okOrError(w, s.MM7DeliverMO(in.From, in.To, in.Text, in.ImageBase64))
		}
	})
	m.HandleFunc("POST /control/mm7/fail", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Count, Code *int }
		if !decode(w, r, &in) {
			return
		}
		if in.Count == nil || *in.Count < 0 || in.Code == nil || *in.Code < 2000 || *in.Code > 4999 {
			writeError(w, http.StatusBadRequest, errors.New("count: required, >= 0; code: required, 2000..4999"))
			return
		}
		s.MM7Fail(*in.Count, *in.Code)
		okOrError(w, nil)
	})
	m.HandleFunc("POST /control/mm7/webhook", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			URL string `json:"url"`
		}
		if decode(w, r, &in) {
			s.SetMM7Callback(in.URL)
			okOrError(w, nil)
		}
	})
	m.HandleFunc("GET /control/mm7/messages", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.MMSMessages())
	})
	// One part's bytes, for the handset page's <img>.
	m.HandleFunc("GET /control/mm7/messages/{id}/parts/{n}", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		msg := s.mm7.byID[r.PathValue("id")]
		n, err := strconv.Atoi(r.PathValue("n"))
		if msg == nil || err != nil || n < 0 || n >= len(msg.Parts) {
			s.mu.Unlock()
			writeError(w, http.StatusNotFound, errors.New("sim: no such MMS part"))
			return
		}
		p := msg.Parts[n]
		s.mu.Unlock()
		w.Header().Set("Content-Type", p.ContentType)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(p.Data)
	})
}

// mm7Fault is an error answered as a SOAP Fault with an RSErrorRsp.
type mm7Fault struct {
	code    int
	details string
}

func faultf(code int, format string, args ...any) *mm7Fault {
	return &mm7Fault{code: code, details: fmt.Sprintf(format, args...)}
}

// submitCtx is what is known of a request so far, for the answer.
type submitCtx struct {
	ns, version, tid string
}

func (s *Sim) mm7Submit(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.stats.MM7Submits++
	s.mu.Unlock()
	c := submitCtx{ns: DefaultMM7Namespace, version: DefaultMM7Version}
	m, f := s.parseSubmit(w, r, &c)
	s.mu.Lock()
	if f == nil && s.mm7.failN > 0 {
		s.mm7.failN--
		f = faultf(s.mm7.failCode, "simulated failure")
	}
	if f != nil {
		s.stats.MM7Rejected++
		s.mu.Unlock()
		writeFault(w, c, f)
		return
	}
	s.mm7.nextID++
	m.MessageID = strconv.FormatUint(s.mm7.nextID, 10)
	m.At = s.now()
	s.mm7.msgs = append(s.mm7.msgs, m)
	s.mm7.byID[m.MessageID] = m
	s.stats.MM7Accepted++
	if s.cfg.MM7AutoReport > 0 && m.DeliveryReport {
		s.laterLocked(s.cfg.MM7AutoReport, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if m.Status != "" {
				return
			}
			if err := s.mm7ReportLocked(m, "Retrieved"); err != nil {
				s.log.Debug("sim: mm7 auto-report", "external_id", m.MessageID, "err", err)
			}
		})
	}
	s.mu.Unlock()
	body := fmt.Sprintf(`<SubmitRsp xmlns="%s"><MM7Version>%s</MM7Version>`+
		`<Status><StatusCode>1000</StatusCode><StatusText>Success</StatusText></Status>`+
		`<MessageID>%s</MessageID></SubmitRsp>`, xesc(c.ns), xesc(c.version), m.MessageID)
	writeXML(w, http.StatusOK, soapEnvelope(c.ns, c.tid, body))
}

// parseSubmit reads and checks a SubmitReq; c is filled in as the namespace,
// version and TransactionID become known, so that a Fault can echo them.
func (s *Sim) parseSubmit(w http.ResponseWriter, r *http.Request, c *submitCtx) (*MMS, *mm7Fault) {
	limit := int64(64 << 20)
	if s.cfg.MM7MaxSize > 0 {
		limit = min(limit, int64(s.cfg.MM7MaxSize)*2+1<<20)
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, faultf(2004, "request larger than %d bytes", limit)
		}
		return nil, faultf(2007, "cannot read the request: %v", err)
	}
	var (
		soap  []byte
		parts []mimePart
	)
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case err != nil:
		return nil, faultf(2007, "bad Content-Type %q", r.Header.Get("Content-Type"))
	case mt == "text/xml":
		soap = raw
	case mt == "multipart/related":
		parts, err = readParts(raw, params["boundary"])
		if err != nil {
			return nil, faultf(2007, "multipart/related: %v", err)
		}
		root := 0
		if start := params["start"]; start != "" {
			root = slices.IndexFunc(parts, func(p mimePart) bool { return p.id == trimID(start) })
			if root < 0 {
				return nil, faultf(2007, "no part has the start Content-ID %s", start)
			}
		}
		if parts[root].mediaType != "text/xml" {
			return nil, faultf(2007, "SOAP part is %s, want text/xml", parts[root].mediaType)
		}
		soap = parts[root].data
		parts = slices.Delete(parts, root, root+1)
	default:
		return nil, faultf(2007, "Content-Type %s: want multipart/related or text/xml", mt)
	}

	env, err := parseXML(soap)
	if err != nil {
		return nil, faultf(2007, "SOAP part: %v", err)
	}
	if env.name != (xml.Name{Space: SOAPEnvNS, Local: "Envelope"}) {
		return nil, faultf(2007, "root element %s {%s} is not a SOAP 1.1 Envelope", env.name.Local, env.name.Space)
	}
	c.tid = transactionID(env)
	body := env.child(SOAPEnvNS, "Body")
	if body == nil || len(body.kids) != 1 {
		return nil, faultf(2007, "SOAP Body must hold exactly one element")
	}
	req := body.kids[0]
	rel, ok := mm7Release(req.name.Space)
	if !ok {
		return nil, faultf(4002, "namespace %q is not a REL-5 or REL-6 MM7 schema", req.name.Space)
	}
	c.ns = req.name.Space
	if rel == "5" {
		c.version = "5.3.0"
	}
	if req.name.Local != "SubmitReq" {
		return nil, faultf(4003, "%s is not supported, only SubmitReq", req.name.Local)
	}
	if c.tid == "" {
		return nil, faultf(4004, "TransactionID missing from the SOAP Header")
	}
	ns := c.ns
	seen := map[string]bool{}
	for _, k := range req.kids {
		if k.name.Space != ns {
			return nil, faultf(4004, "element %s is in namespace %q, not %q", k.name.Local, k.name.Space, ns)
		}
		if !slices.Contains(submitReqElements, k.name.Local) {
			return nil, faultf(4004, "unknown element %s in SubmitReq", k.name.Local)
		}
		if seen[k.name.Local] {
			return nil, faultf(4004, "element %s repeated", k.name.Local)
		}
		seen[k.name.Local] = true
	}
	vEl := req.child(ns, "MM7Version")
	if vEl == nil {
		return nil, faultf(4004, "MM7Version missing")
	}
	v := mm7VersionRe.FindStringSubmatch(vEl.value())
	if v == nil || v[1] != rel {
		return nil, faultf(4002, "MM7Version %q does not go with namespace REL-%s", vEl.value(), rel)
	}
	c.version = vEl.value()

	m := &MMS{TransactionID: c.tid, Namespace: ns, MM7Version: c.version, Envelope: string(soap)}
	si := req.child(ns, "SenderIdentification")
	if si == nil {
		return nil, faultf(4004, "SenderIdentification missing")
	}
	for _, k := range si.kids {
		if k.name.Space != ns || !slices.Contains([]string{"VASPID", "VASID", "SenderAddress"}, k.name.Local) {
			return nil, faultf(4004, "unknown element %s in SenderIdentification", k.name.Local)
		}
	}
	m.VASPID, m.VASID = si.child(ns, "VASPID").value(), si.child(ns, "VASID").value()
	if s.cfg.MM7VASPID != "" && m.VASPID != s.cfg.MM7VASPID {
		return nil, faultf(4001, "VASPID %q is not known", m.VASPID)
	}
	if sa := si.child(ns, "SenderAddress"); sa != nil {
		as, f := addresses(sa, ns, "")
		if f != nil {
			return nil, f
		}
		if len(as) != 1 {
			return nil, faultf(2002, "SenderAddress must hold exactly one address")
		}
		m.Sender = &as[0]
	}
	rcpts := req.child(ns, "Recipients")
	if rcpts == nil {
		return nil, faultf(4004, "Recipients missing")
	}
	for _, k := range rcpts.kids {
		if k.name.Space != ns || !slices.Contains([]string{"To", "Cc", "Bcc"}, k.name.Local) {
			return nil, faultf(4004, "unknown element %s in Recipients", k.name.Local)
		}
		as, f := addresses(k, ns, k.name.Local)
		if f != nil {
			return nil, f
		}
		if len(as) == 0 {
			return nil, faultf(2002, "%s without an address", k.name.Local)
		}
		m.Recipients = append(m.Recipients, as...)
	}
	if len(m.Recipients) == 0 {
		return nil, faultf(2002, "no recipient")
	}
	for _, name := range []string{"DeliveryReport", "ReadReply"} {
		if e := req.child(ns, name); e != nil {
			b, ok := xsBool(e.value())
			if !ok {
				return nil, faultf(4004, "%s %q is not a boolean", name, e.value())
			}
			if name == "DeliveryReport" {
				m.DeliveryReport = b
			}
		}
	}
	if e := req.child(ns, "TimeStamp"); e != nil && !xsDateTime(e.value()) {
		return nil, faultf(4004, "TimeStamp %q is not an xs:dateTime", e.value())
	}
	m.Subject = req.child(ns, "Subject").value()
	m.LinkedID = req.child(ns, "LinkedID").value()
	m.ServiceCode = req.child(ns, "ServiceCode").value()

	ce := req.child(ns, "Content")
	if ce == nil {
		return nil, faultf(4004, "Content missing")
	}
	if aa := ce.attr("allowAdaptations"); aa != "" {
		if _, ok := xsBool(aa); !ok {
			return nil, faultf(4004, "allowAdaptations %q is not a boolean", aa)
		}
	}
	href := ce.attr("href")
	cid, ok := strings.CutPrefix(href, "cid:")
	if !ok {
		return nil, faultf(2007, "Content href %q is not a cid: URL", href)
	}
	if u, err := url.PathUnescape(cid); err == nil {
		cid = u // cid URLs are %-encoded (RFC 2392)
	}
	ci := slices.IndexFunc(parts, func(p mimePart) bool { return p.id == cid })
	if ci < 0 {
		return nil, faultf(2007, "Content href %q: no part has Content-ID <%s>", href, cid)
	}
	if f := s.content(m, parts[ci]); f != nil {
		return nil, f
	}
	return m, nil
}

// content checks the part Content points at: a multipart with a SMIL whose
// every src names a part that exists, within MM7MaxSize.
func (s *Sim) content(m *MMS, cp mimePart) *mm7Fault {
	var inner []mimePart
	if strings.HasPrefix(cp.mediaType, "multipart/") {
		var err error
		if inner, err = readParts(cp.data, cp.params["boundary"]); err != nil {
			return faultf(2007, "content %s: %v", cp.mediaType, err)
		}
	} else {
		inner = []mimePart{cp}
	}
	total := 0
	for _, p := range inner {
		total += len(p.data)
	}
	if s.cfg.MM7MaxSize > 0 && total > s.cfg.MM7MaxSize {
		return faultf(2004, "content is %d bytes, more than %d", total, s.cfg.MM7MaxSize)
	}
	si := -1
	if start := cp.params["start"]; start != "" {
		si = slices.IndexFunc(inner, func(p mimePart) bool { return p.id == trimID(start) })
		if si < 0 {
			return faultf(2007, "content start %s: no such part", start)
		}
	} else {
		si = slices.IndexFunc(inner, func(p mimePart) bool { return p.mediaType == "application/smil" })
	}
	if si < 0 || inner[si].mediaType != "application/smil" {
		return faultf(2007, "content has no SMIL part (application/smil)")
	}
	smil := inner[si]
	media := slices.Delete(slices.Clone(inner), si, si+1)
	doc, err := parseXML(smil.data)
	if err != nil {
		return faultf(2007, "SMIL: %v", err)
	}
	if doc.name.Local != "smil" {
		return faultf(2007, "SMIL root is %s, want smil", doc.name.Local)
	}
	var srcs []string
	doc.walk(func(n *xnode) {
		if v := n.attr("src"); v != "" {
			srcs = append(srcs, v)
		}
	})
	if len(srcs) == 0 {
		return faultf(2007, "SMIL references no media")
	}
	for _, src := range srcs {
		found := slices.ContainsFunc(media, func(p mimePart) bool {
			if id, ok := strings.CutPrefix(src, "cid:"); ok {
				if u, err := url.PathUnescape(id); err == nil {
					id = u
				}
				return p.id == id
			}
			// Content-Location and bare names work on many MMSCs (mm7.md §9).
			return p.location == src || p.id == src
		})
		if !found {
			return faultf(2007, "SMIL src %q: no such part", src)
		}
	}
	for _, p := range media {
		if len(p.data) == 0 {
			return faultf(2007, "part %q is empty", p.id)
		}
		m.Parts = append(m.Parts, MMSPart{
			ContentType: p.ctype, ContentID: p.id, ContentLocation: p.location, Size: len(p.data), Data: p.data,
		})
	}
	m.SMIL = string(smil.data)
	return nil
}

// addresses reads the Number, ShortCode and RFC2822Address children of e.
func addresses(e *xnode, ns, field string) ([]MM7Address, *mm7Fault) {
	var out []MM7Address
	for _, k := range e.kids {
		v := k.value()
		ok := false
		switch {
		case k.name.Space != ns:
		case k.name.Local == "Number":
			ok = msisdnRe.MatchString(v)
		case k.name.Local == "ShortCode":
			ok = shortCodeRe.MatchString(v)
		case k.name.Local == "RFC2822Address":
			ok = strings.Contains(v, "@")
		default:
			return nil, faultf(4004, "unknown element %s in %s", k.name.Local, e.name.Local)
		}
		if !ok {
			return nil, faultf(2002, "%s %q is not a valid address", k.name.Local, v)
		}
		out = append(out, MM7Address{Field: field, Kind: k.name.Local, Value: v})
	}
	return out, nil
}

func mm7Release(ns string) (string, bool) {
	m := mm7NSRe.FindStringSubmatch(ns)
	if m == nil || (m[1] != "5" && m[1] != "6") {
		return "", false
	}
	return m[1], true
}

// transactionID is the TransactionID of the SOAP Header, in any MM7 namespace.
func transactionID(env *xnode) string {
	h := env.child(SOAPEnvNS, "Header")
	if h == nil {
		return ""
	}
	for _, k := range h.kids {
		if k.name.Local == "TransactionID" && mm7NSRe.MatchString(k.name.Space) {
			return k.value()
		}
	}
	return ""
}

func xsBool(v string) (bool, bool) {
	switch v {
	case "true", "1":
		return true, true
	case "false", "0":
		return false, true
	}
	return false, false
}

// xsDateTime accepts an xs:dateTime with or without a zone.
func xsDateTime(v string) bool {
	if _, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return true
	}
	_, err := time.Parse("2006-01-02T15:04:05.999999999", v)
	return err == nil
}

func writeFault(w http.ResponseWriter, c submitCtx, f *mm7Fault) {
	// SOAP 1.1: Client for a problem with the request (2xxx), Server otherwise.
	fc, fs := "env:Server", "Server error"
	if f.code/1000 == 2 {
		fc, fs = "env:Client", "Client error"
	}
	text := mm7StatusText[f.code]
	if text == "" {
		text = "Error"
	}
	body := fmt.Sprintf(`<env:Fault><faultcode>%s</faultcode><faultstring>%s</faultstring><detail>`+
		`<RSErrorRsp xmlns="%s"><MM7Version>%s</MM7Version><Status><StatusCode>%d</StatusCode>`+
		`<StatusText>%s</StatusText><Details>%s</Details></Status></RSErrorRsp></detail></env:Fault>`,
		fc, fs, xesc(c.ns), xesc(c.version), f.code, xesc(text), xesc(f.details))
	writeXML(w, http.StatusInternalServerError, soapEnvelope(c.ns, c.tid, body))
}

func writeXML(w http.ResponseWriter, code int, b []byte) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// soapEnvelope wraps body in a SOAP 1.1 envelope with the TransactionID
// header (mm7.md §3); no header when tid is "".
func soapEnvelope(ns, tid, body string) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<env:Envelope xmlns:env="` + SOAPEnvNS + `">`)
	if tid != "" {
		fmt.Fprintf(&b, `<env:Header><mm7:TransactionID xmlns:mm7="%s" env:mustUnderstand="1">%s</mm7:TransactionID></env:Header>`,
			xesc(ns), xesc(tid))
	}
	b.WriteString(`<env:Body>` + body + `</env:Body></env:Envelope>`)
	return []byte(b.String())
}

func xesc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// ---- MIME ----

// mimePart is one decoded body part.
type mimePart struct {
	ctype, mediaType string
	params           map[string]string
	id, location     string
	data             []byte
}

// readParts splits a multipart body and decodes each part's transfer
// encoding (quoted-printable is undone by mime/multipart itself).
func readParts(body []byte, boundary string) ([]mimePart, error) {
	if boundary == "" {
		return nil, errors.New("no boundary parameter")
	}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	var out []mimePart
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(p)
		if err != nil {
			return nil, err
		}
		switch cte := strings.ToLower(strings.TrimSpace(p.Header.Get("Content-Transfer-Encoding"))); cte {
		case "", "7bit", "8bit", "binary":
		case "base64":
			clean := strings.Map(func(r rune) rune {
				if r == '\r' || r == '\n' || r == ' ' || r == '\t' {
					return -1
				}
				return r
			}, string(data))
			if data, err = base64.StdEncoding.DecodeString(clean); err != nil {
				return nil, fmt.Errorf("part %s: bad base64: %w", p.Header.Get("Content-Id"), err)
			}
		default:
			return nil, fmt.Errorf("part %s: unknown Content-Transfer-Encoding %q", p.Header.Get("Content-Id"), cte)
		}
		ct := p.Header.Get("Content-Type")
		if ct == "" {
			ct = "text/plain" // RFC 2045 §5.2
		}
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil {
			return nil, fmt.Errorf("part %s: bad Content-Type %q", p.Header.Get("Content-Id"), ct)
		}
		out = append(out, mimePart{
			ctype: ct, mediaType: mt, params: params, data: data,
			id: trimID(p.Header.Get("Content-Id")), location: p.Header.Get("Content-Location"),
		})
	}
	if len(out) == 0 {
		return nil, errors.New("no parts")
	}
	return out, nil
}

// trimID is a Content-ID without its angle brackets.
func trimID(id string) string {
	return strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(id), "<"), ">")
}

// ---- a small namespace-aware XML tree ----

type xnode struct {
	name  xml.Name // Space is the namespace URI, whatever the prefix
	attrs []xml.Attr
	kids  []*xnode
	text  strings.Builder
}

func parseXML(b []byte) (*xnode, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	var (
		root  *xnode
		stack []*xnode
	)
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("bad XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			n := &xnode{name: t.Name, attrs: t.Attr}
			if len(stack) > 0 {
				top := stack[len(stack)-1]
				top.kids = append(top.kids, n)
			} else if root == nil {
				root = n
			} else {
				return nil, errors.New("bad XML: more than one root element")
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			}
		}
	}
	if root == nil {
		return nil, errors.New("bad XML: no element")
	}
	return root, nil
}

// child is the first child named {space}local, or nil.
func (n *xnode) child(space, local string) *xnode {
	if n == nil {
		return nil
	}
	for _, k := range n.kids {
		if k.name.Space == space && k.name.Local == local {
			return k
		}
	}
	return nil
}

// value is the trimmed text of n ("" for nil).
func (n *xnode) value() string {
	if n == nil {
		return ""
	}
	return strings.TrimSpace(n.text.String())
}

// attr is the value of the unqualified attribute local.
func (n *xnode) attr(local string) string {
	for _, a := range n.attrs {
		if a.Name.Space == "" && a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

func (n *xnode) walk(f func(*xnode)) {
	f(n)
	for _, k := range n.kids {
		k.walk(f)
	}
}
