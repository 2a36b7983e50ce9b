package mms

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/textproto"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
)

// MM7 defaults (mm7.md §1).
const (
	DefaultNamespace = "http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-6-MM7-1-4"
	DefaultVersion   = "6.8.0"
	DefaultMaxSize   = 614400
)

const (
	soapNS       = "http://schemas.xmlsoap.org/soap/envelope/"
	soapStartCID = "soap-start"
	contentCID   = "mms-content"
)

// MM7 status codes the gateway writes or reads specially (mm7.md §8).
const (
	StatusSuccess        = 1000
	StatusPartialSuccess = 1100
	StatusClientError    = 2000
	StatusContentRefused = 2004
	StatusFormatCorrupt  = 2007
	StatusServerError    = 3000
	StatusNotPossible    = 3001
	StatusRejected       = 3002
	StatusMultipleAddrs  = 3003
	StatusUnsupportedOp  = 4003
)

// mm7Status is the Status element of an MM7 response or error.
type mm7Status struct {
	Code    int
	Text    string
	Details string
}

// String is "2004 Multimedia content refused (details)".
func (s mm7Status) String() string {
	out := strconv.Itoa(s.Code)
	if s.Text != "" {
		out += " " + s.Text
	}
	if s.Details != "" {
		out += " (" + s.Details + ")"
	}
	return out
}

// address is an MM7 address element: Number, ShortCode or RFC2822Address.
type address struct {
	kind  string
	value string
}

// submitReq holds what goes into a SubmitReq envelope.
type submitReq struct {
	Namespace     string
	Version       string
	TransactionID string
	VASPID        string
	VASID         string
	Sender        *address
	To            address
	ServiceCode   string
	TimeStamp     time.Time
	Subject       string
	ContentID     string
}

// envelope writes the SOAP envelope of a SubmitReq, elements in the order of
// mm7.md §4 (the XSD is a sequence; strict MMSCs check it).
func (r *submitReq) envelope() []byte {
	var b bytes.Buffer
	writeEnvelopeStart(&b, r.Namespace, r.TransactionID)
	b.WriteString(`    <SubmitReq xmlns="` + attr(r.Namespace) + `">` + "\n")
	elem(&b, 6, "MM7Version", r.Version)
	b.WriteString("      <SenderIdentification>\n")
	if r.VASPID != "" {
		elem(&b, 8, "VASPID", r.VASPID)
	}
	if r.VASID != "" {
		elem(&b, 8, "VASID", r.VASID)
	}
	if r.Sender != nil {
		b.WriteString("        <SenderAddress><" + r.Sender.kind + ">" + esc(r.Sender.value) + "</" + r.Sender.kind + "></SenderAddress>\n")
	}
	b.WriteString("      </SenderIdentification>\n")
	b.WriteString("      <Recipients><To><" + r.To.kind + ">" + esc(r.To.value) + "</" + r.To.kind + "></To></Recipients>\n")
	if r.ServiceCode != "" {
		elem(&b, 6, "ServiceCode", r.ServiceCode)
	}
	if !r.TimeStamp.IsZero() {
		elem(&b, 6, "TimeStamp", r.TimeStamp.UTC().Format(time.RFC3339))
	}
	elem(&b, 6, "DeliveryReport", "true")
	if r.Subject != "" {
		elem(&b, 6, "Subject", r.Subject)
	}
	b.WriteString(`      <Content href="cid:` + attr(r.ContentID) + `" allowAdaptations="true"/>` + "\n")
	b.WriteString("    </SubmitReq>\n")
	writeEnvelopeEnd(&b)
	return b.Bytes()
}

// responseEnvelope writes a VASP answer (DeliveryReportRsp, DeliverRsp…)
// carrying status code in the request's namespace, echoing its transaction.
func responseEnvelope(op, ns, version, txID string, code int, text string) []byte {
	var b bytes.Buffer
	writeEnvelopeStart(&b, ns, txID)
	b.WriteString(`    <` + op + ` xmlns="` + attr(ns) + `">` + "\n")
	elem(&b, 6, "MM7Version", version)
	writeStatus(&b, mm7Status{Code: code, Text: text})
	b.WriteString("    </" + op + ">\n")
	writeEnvelopeEnd(&b)
	return b.Bytes()
}

// faultEnvelope writes a SOAP Fault with a VASPErrorRsp (mm7.md §8): Client
// for 2xxx codes (the request is at fault), Server otherwise.
func faultEnvelope(ns, version, txID string, st mm7Status) []byte {
	var b bytes.Buffer
	writeEnvelopeStart(&b, ns, txID)
	faultcode, faultstring := "env:Server", "Server error"
	if st.Code/1000 == 2 {
		faultcode, faultstring = "env:Client", "Client error"
	}
	b.WriteString("    <env:Fault>\n")
	elem(&b, 6, "faultcode", faultcode)
	elem(&b, 6, "faultstring", faultstring)
	b.WriteString("      <detail>\n")
	b.WriteString(`        <VASPErrorRsp xmlns="` + attr(ns) + `">` + "\n")
	elem(&b, 10, "MM7Version", version)
	writeStatusIndent(&b, 10, st)
	b.WriteString("        </VASPErrorRsp>\n")
	b.WriteString("      </detail>\n")
	b.WriteString("    </env:Fault>\n")
	writeEnvelopeEnd(&b)
	return b.Bytes()
}

func writeEnvelopeStart(b *bytes.Buffer, ns, txID string) {
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<env:Envelope xmlns:env="` + soapNS + `">` + "\n")
	if txID != "" {
		b.WriteString("  <env:Header>\n")
		b.WriteString(`    <mm7:TransactionID xmlns:mm7="` + attr(ns) + `" env:mustUnderstand="1">` + esc(txID) + "</mm7:TransactionID>\n")
		b.WriteString("  </env:Header>\n")
	}
	b.WriteString("  <env:Body>\n")
}

func writeEnvelopeEnd(b *bytes.Buffer) {
	b.WriteString("  </env:Body>\n</env:Envelope>\n")
}

func writeStatus(b *bytes.Buffer, st mm7Status) { writeStatusIndent(b, 6, st) }

func writeStatusIndent(b *bytes.Buffer, indent int, st mm7Status) {
	pad := strings.Repeat(" ", indent)
	b.WriteString(pad + "<Status>\n")
	elem(b, indent+2, "StatusCode", strconv.Itoa(st.Code))
	if st.Text != "" {
		elem(b, indent+2, "StatusText", st.Text)
	}
	if st.Details != "" {
		elem(b, indent+2, "Details", st.Details)
	}
	b.WriteString(pad + "</Status>\n")
}

func elem(b *bytes.Buffer, indent int, name, value string) {
	b.WriteString(strings.Repeat(" ", indent) + "<" + name + ">" + esc(value) + "</" + name + ">\n")
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// attr escapes an attribute value (EscapeText also escapes quotes).
func attr(s string) string { return esc(s) }

// node is an element of a parsed XML document. Names are namespace-resolved
// (Space is the URI), so prefixes never matter (mm7.md §3).
type node struct {
	name  xml.Name
	attrs []xml.Attr
	text  strings.Builder
	kids  []*node
}

// maxXMLDepth and maxXMLNodes bound what parseXML builds from a request.
const (
	maxXMLDepth = 32
	maxXMLNodes = 10000
)

func parseXML(data []byte) (*node, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.CharsetReader = charsetReader
	var root *node
	var stack []*node
	count := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			count++
			if len(stack) >= maxXMLDepth || count > maxXMLNodes {
				return nil, errors.New("document too deep or too large")
			}
			n := &node{name: t.Name, attrs: t.Attr}
			if len(stack) == 0 {
				if root != nil {
					return nil, errors.New("more than one root element")
				}
				root = n
			} else {
				p := stack[len(stack)-1]
				p.kids = append(p.kids, n)
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
		return nil, errors.New("no XML element")
	}
	return root, nil
}

// child is the first child element with the local name, or nil.
func (n *node) child(local string) *node {
	if n == nil {
		return nil
	}
	for _, k := range n.kids {
		if k.name.Local == local {
			return k
		}
	}
	return nil
}

// find is the first descendant (depth first) with the local name, or nil.
func (n *node) find(local string) *node {
	if n == nil {
		return nil
	}
	for _, k := range n.kids {
		if k.name.Local == local {
			return k
		}
		if f := k.find(local); f != nil {
			return f
		}
	}
	return nil
}

// value is the trimmed text of the child with the local name.
func (n *node) value(local string) string {
	c := n.child(local)
	if c == nil {
		return ""
	}
	return strings.TrimSpace(c.text.String())
}

// envelope is a parsed SOAP envelope.
type envelope struct {
	transactionID string
	op            *node // the first element of the Body
	fault         *node // set when op is a Fault
}

func parseEnvelope(data []byte) (*envelope, error) {
	root, err := parseXML(data)
	if err != nil {
		return nil, fmt.Errorf("mms: malformed XML: %w", err)
	}
	if root.name.Local != "Envelope" {
		return nil, fmt.Errorf("mms: root element is %s, not a SOAP Envelope", root.name.Local)
	}
	env := &envelope{}
	if h := root.child("Header"); h != nil {
		if t := h.find("TransactionID"); t != nil {
			env.transactionID = strings.TrimSpace(t.text.String())
		}
	}
	body := root.child("Body")
	if body == nil || len(body.kids) == 0 {
		return nil, errors.New("mms: SOAP envelope without a Body element")
	}
	env.op = body.kids[0]
	if env.op.name.Local == "Fault" {
		env.fault = env.op
	}
	return env, nil
}

// status reads a Status element.
func statusOf(n *node) (mm7Status, bool) {
	if n == nil {
		return mm7Status{}, false
	}
	code, err := strconv.Atoi(n.value("StatusCode"))
	if err != nil {
		return mm7Status{}, false
	}
	return mm7Status{Code: code, Text: n.value("StatusText"), Details: n.value("Details")}, true
}

// faultStatus reads the status of a SOAP Fault: the Status of its
// RSErrorRsp (or whatever error element the detail holds), else a generic
// 2000 or 3000 from the faultcode.
func faultStatus(f *node) mm7Status {
	if st, ok := statusOf(f.child("detail").find("Status")); ok {
		return st
	}
	if st, ok := statusOf(f.find("Status")); ok {
		return st
	}
	fc := f.value("faultcode")
	st := mm7Status{Code: StatusServerError, Text: f.value("faultstring")}
	if _, local, _ := strings.Cut(fc, ":"); strings.EqualFold(local, "Client") || strings.EqualFold(fc, "Client") {
		st.Code = StatusClientError
	}
	return st
}

// mimePart is one leaf of a multipart body, transfer-decoded.
type mimePart struct {
	ctype     string // media type, lower-case
	params    map[string]string
	contentID string // without angle brackets
	location  string
	data      []byte
}

// maxMIMEParts bounds the parts read from one request.
const maxMIMEParts = 64

// splitMessage finds the SOAP envelope of an MM7 HTTP body and, for a
// multipart/related one, the other parts flattened (nested multiparts are
// opened). The envelope is the part named by the start parameter, else the
// first text/xml part, else the first part.
func splitMessage(contentType string, body []byte) ([]byte, []mimePart, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || !strings.HasPrefix(mt, "multipart/") {
		// No (or an unreadable) Content-Type: take the body for XML and let
		// the parser decide.
		return body, nil, nil
	}
	parts, err := readMultipart(body, params["boundary"], 0)
	if err != nil {
		return nil, nil, err
	}
	if len(parts) == 0 {
		return nil, nil, errors.New("mms: empty multipart body")
	}
	start := trimCID(params["start"])
	idx := -1
	for i, p := range parts {
		if start != "" && p.contentID == start {
			idx = i
			break
		}
	}
	if idx < 0 {
		for i, p := range parts {
			if p.ctype == "text/xml" || p.ctype == "application/soap+xml" || p.ctype == "application/xml" {
				idx = i
				break
			}
		}
	}
	if idx < 0 {
		idx = 0
	}
	soap := parts[idx].data
	return soap, append(parts[:idx:idx], parts[idx+1:]...), nil
}

func readMultipart(body []byte, boundary string, depth int) ([]mimePart, error) {
	if boundary == "" {
		return nil, errors.New("mms: multipart body without a boundary")
	}
	if depth > 3 {
		return nil, errors.New("mms: multipart nested too deep")
	}
	r := multipart.NewReader(bytes.NewReader(body), boundary)
	var out []mimePart
	for {
		p, err := r.NextPart() // also undoes quoted-printable
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("mms: multipart: %w", err)
		}
		data, err := io.ReadAll(p)
		if err != nil {
			return nil, fmt.Errorf("mms: multipart: %w", err)
		}
		if strings.EqualFold(strings.TrimSpace(p.Header.Get("Content-Transfer-Encoding")), "base64") {
			dec, err := io.ReadAll(base64.NewDecoder(base64.StdEncoding, bytes.NewReader(bytes.TrimSpace(data))))
			if err != nil {
				return nil, fmt.Errorf("mms: part %s: bad base64: %w", p.Header.Get("Content-ID"), err)
			}
			data = dec
		}
		ct := p.Header.Get("Content-Type")
		if ct == "" {
			ct = "text/plain" // RFC 2046 §5.1 default
		}
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil {
			mt, params = strings.ToLower(strings.TrimSpace(strings.Split(ct, ";")[0])), map[string]string{}
		}
		if strings.HasPrefix(mt, "multipart/") {
			inner, err := readMultipart(data, params["boundary"], depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, inner...)
		} else {
			out = append(out, mimePart{ctype: mt, params: params, contentID: trimCID(p.Header.Get("Content-ID")),
				location: p.Header.Get("Content-Location"), data: data})
		}
		if len(out) > maxMIMEParts {
			return nil, errors.New("mms: too many parts")
		}
	}
	return out, nil
}

func trimCID(s string) string {
	return strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(s), "<"), ">")
}

// writeBase64 writes data in lines of 76 characters (RFC 2045 §6.8).
func writeBase64(w io.Writer, data []byte) error {
	enc := base64.StdEncoding.EncodeToString(data)
	for len(enc) > 76 {
		if _, err := io.WriteString(w, enc[:76]+"\r\n"); err != nil {
			return err
		}
		enc = enc[76:]
	}
	_, err := io.WriteString(w, enc)
	return err
}

// partHeader builds the MIME headers of a part. Keys are written as the
// spec spells them ("Content-ID", not Go's canonical "Content-Id"): header
// names are case-insensitive, but not every MMSC's parser is.
func partHeader(ctype, cid, location, cte string) textproto.MIMEHeader {
	h := textproto.MIMEHeader{"Content-Type": {ctype}, "Content-ID": {"<" + cid + ">"}}
	if location != "" {
		h["Content-Location"] = []string{location}
	}
	if cte != "" {
		h["Content-Transfer-Encoding"] = []string{cte}
	}
	return h
}

// decodeText turns a text part into a Go string by its charset: UTF-8 and
// US-ASCII as they are, ISO-8859-1 and UTF-16 (with a BOM, else big-endian)
// converted; anything else is read as UTF-8 with invalid bytes replaced.
func decodeText(data []byte, charset string) string {
	switch strings.ToLower(strings.TrimSpace(charset)) {
	case "iso-8859-1", "latin1", "iso_8859-1", "l1":
		return latin1(data)
	case "utf-16", "utf-16be", "utf-16le":
		return utf16Text(data, strings.EqualFold(charset, "utf-16le"))
	}
	return strings.ToValidUTF8(string(data), "\uFFFD")
}

func latin1(data []byte) string {
	r := make([]rune, len(data))
	for i, c := range data {
		r[i] = rune(c)
	}
	return string(r)
}

func utf16Text(data []byte, little bool) string {
	if len(data) >= 2 {
		switch {
		case data[0] == 0xFE && data[1] == 0xFF:
			data, little = data[2:], false
		case data[0] == 0xFF && data[1] == 0xFE:
			data, little = data[2:], true
		}
	}
	u := make([]uint16, len(data)/2)
	for i := range u {
		if little {
			u[i] = uint16(data[2*i]) | uint16(data[2*i+1])<<8
		} else {
			u[i] = uint16(data[2*i])<<8 | uint16(data[2*i+1])
		}
	}
	return string(utf16.Decode(u))
}

// charsetReader lets encoding/xml read envelopes declared ISO-8859-1 or
// US-ASCII, which older MMSCs send.
func charsetReader(charset string, input io.Reader) (io.Reader, error) {
	switch strings.ToLower(charset) {
	case "iso-8859-1", "latin1":
		data, err := io.ReadAll(input)
		if err != nil {
			return nil, err
		}
		return strings.NewReader(latin1(data)), nil
	case "us-ascii", "ascii", "utf8":
		return input, nil
	}
	return nil, fmt.Errorf("unsupported charset %q", charset)
}
