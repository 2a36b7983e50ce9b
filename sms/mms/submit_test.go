package mms_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"gateway/sms/mms"
	"gateway/unify"
)

const rel6 = "http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-6-MM7-1-4"
const rel5 = "http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-5-MM7-1-0"

// capturedRequest is one HTTP request the test MMSC received.
type capturedRequest struct {
	header http.Header
	body   []byte
}

// mmsc is a scripted MM7 relay: each request gets the next answer; a request
// with no answer left fails the test.
type mmsc struct {
	*httptest.Server
	tb       testing.TB
	mu       sync.Mutex
	requests []capturedRequest
	answers  []mmscAnswer
}

type mmscAnswer struct {
	status int
	ctype  string
	body   string
	hang   bool // wait until the client gives up
}

func newMMSC(tb testing.TB, answers ...mmscAnswer) *mmsc {
	tb.Helper()
	s := &mmsc{tb: tb, answers: answers}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.requests = append(s.requests, capturedRequest{header: r.Header.Clone(), body: body})
		if len(s.answers) == 0 {
			s.mu.Unlock()
			tb.Errorf("unexpected request to the MMSC: %s", body)
			w.WriteHeader(http.StatusTeapot)
			return
		}
		a := s.answers[0]
		s.answers = s.answers[1:]
		s.mu.Unlock()
		if a.hang {
			<-r.Context().Done()
			return
		}
		if a.ctype != "" {
			w.Header().Set("Content-Type", a.ctype)
		}
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, a.body)
	}))
	tb.Cleanup(func() {
		s.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		if len(s.answers) > 0 {
			tb.Errorf("%d scripted MMSC answers unused", len(s.answers))
		}
	})
	return s
}

func (s *mmsc) received() []capturedRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]capturedRequest(nil), s.requests...)
}

func submitRsp(ns, code, id string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>
<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/">
  <soap-env:Header><mm7:TransactionID xmlns:mm7="` + ns + `" soap-env:mustUnderstand="1">tx</mm7:TransactionID></soap-env:Header>
  <soap-env:Body>
    <mm7:SubmitRsp xmlns:mm7="` + ns + `">
      <mm7:MM7Version>6.8.0</mm7:MM7Version>
      <mm7:Status><mm7:StatusCode>` + code + `</mm7:StatusCode><mm7:StatusText>Whatever</mm7:StatusText></mm7:Status>
      <mm7:MessageID>` + id + `</mm7:MessageID>
    </mm7:SubmitRsp>
  </soap-env:Body>
</soap-env:Envelope>`
}

func faultRsp(faultcode, code string) string {
	detail := ""
	if code != "" {
		detail = `<detail><RSErrorRsp xmlns="` + rel6 + `"><MM7Version>6.8.0</MM7Version>
        <Status><StatusCode>` + code + `</StatusCode><StatusText>Error</StatusText><Details>because</Details></Status></RSErrorRsp></detail>`
	}
	return `<?xml version="1.0"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/">
  <SOAP-ENV:Body><SOAP-ENV:Fault><faultcode>SOAP-ENV:` + faultcode + `</faultcode><faultstring>oops</faultstring>` + detail + `</SOAP-ENV:Fault></SOAP-ENV:Body>
</SOAP-ENV:Envelope>`
}

func testMessage(mediaURL string) *unify.Message {
	return &unify.Message{
		ID: "msg_0123456789abcdef0123456789", To: "+33612345678", From: "acme",
		Content: unify.Content{Card: &unify.Card{
			Title: "Order 1001 <shipped> & on its way", Description: "2 items — Ünïcödé ✓",
			Media:       &unify.Media{URL: mediaURL, MimeType: "image/jpeg"},
			Suggestions: []unify.Suggestion{{Type: unify.SuggestReply, Text: "Track", Postback: "track"}},
		}},
	}
}

var testAttempt = &unify.Attempt{ID: "5f0c8a8e-2b7d-4c4e-9a57-1c2d3e4f5a6b", Channel: unify.ChannelMMS, Carrier: "sim"}

// TestSendRequest checks the SubmitReq part by part: the outer multipart,
// the SOAP envelope (golden file, then field by field with encoding/xml),
// and the content multipart (SMIL, image, text, Content-IDs, sizes, types).
func TestSendRequest(t *testing.T) {
	t.Parallel()
	f := setupRender(t)
	relay := newMMSC(t, mmscAnswer{status: 200, ctype: "text/xml", body: submitRsp(rel6, "1000", "MSG-00AbC")})
	ch := newChannel(t, relay.URL+"/mm7", nil, nil)
	m := testMessage(f.media.URL + "/box.jpg")

	res, err := ch.Send(context.Background(), m, testAttempt, numbered)
	require.NoError(t, err)
	require.Equal(t, unify.SendResult{Segments: 1, Parts: []unify.Part{{Seq: 1, Status: unify.StatusSent,
		Ref: unify.ExternalRef{ID: "MSG-00AbC", Raw: "msg-00abc"}}}}, res)

	reqs := relay.received()
	require.Len(t, reqs, 1)
	req := reqs[0]
	user, pass, ok := (&http.Request{Header: req.header}).BasicAuth()
	require.True(t, ok)
	require.Equal(t, "gw", user)
	require.Equal(t, "s3cret", pass)
	require.Equal(t, `""`, req.header.Get("SOAPAction"))

	// Outer: multipart/related; type="text/xml"; start="<soap-start>".
	mt, params, err := mime.ParseMediaType(req.header.Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "multipart/related", mt)
	require.Equal(t, "text/xml", params["type"])
	require.Equal(t, "<soap-start>", params["start"])
	outer := readParts(t, req.body, params["boundary"])
	require.Len(t, outer, 2)
	require.Contains(t, string(req.body), "\r\nContent-ID: <mms-content>\r\n", "spelt as in the spec")

	// Part 1: the SOAP envelope.
	soap := outer[0]
	require.Equal(t, "<soap-start>", soap.header.Get("Content-ID"))
	require.Equal(t, "text/xml; charset=utf-8", soap.header.Get("Content-Type"))
	golden(t, "submit_req.xml", soap.body)
	env := parseSubmitReq(t, soap.body)
	require.Equal(t, "5f0c8a8e-2b7d-4c4e-9a57-1c2d3e4f5a6b", env.Header.TransactionID.Value)
	require.Equal(t, rel6, env.Header.TransactionID.XMLName.Space)
	require.Equal(t, "1", env.Header.TransactionID.MustUnderstand)
	s := env.Body.SubmitReq
	require.Equal(t, rel6, s.XMLName.Space)
	require.Equal(t, "6.8.0", s.MM7Version)
	require.Equal(t, "acme", s.SenderIdentification.VASPID)
	require.Equal(t, "gateway", s.SenderIdentification.VASID)
	require.Equal(t, "36000", s.SenderIdentification.SenderAddress.ShortCode)
	require.Equal(t, "33612345678", s.Recipients.To.Number)
	require.Equal(t, "promo-1", s.ServiceCode)
	require.Equal(t, "2026-11-25T12:00:00Z", s.TimeStamp)
	require.Equal(t, "true", s.DeliveryReport)
	require.Equal(t, "Order 1001 <shipped> & on its way", s.Subject)
	require.Equal(t, "cid:mms-content", s.Content.Href)
	require.Equal(t, []string{"MM7Version", "SenderIdentification", "Recipients", "ServiceCode", "TimeStamp", "DeliveryReport", "Subject", "Content"},
		childOrder(t, soap.body, "SubmitReq"), "element order of the XSD sequence")

	// Part 2: the content, named by the href.
	content := outer[1]
	require.Equal(t, "<mms-content>", content.header.Get("Content-ID"))
	mt, params, err = mime.ParseMediaType(content.header.Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "multipart/related", mt)
	require.Equal(t, "application/smil", params["type"])
	require.Equal(t, "<smil>", params["start"])
	inner := readParts(t, content.body, params["boundary"])
	require.Len(t, inner, 3)

	r, err := ch.Render(context.Background(), m, numbered)
	require.NoError(t, err)
	smil := inner[0]
	require.Equal(t, "<smil>", smil.header.Get("Content-ID"))
	require.Equal(t, "application/smil; charset=utf-8", smil.header.Get("Content-Type"))
	require.Equal(t, r.MMS.SMIL, string(smil.body), "what is sent is what Render shows")
	golden(t, "card.smil", smil.body)

	img := inner[1]
	require.Equal(t, "<img1>", img.header.Get("Content-ID"))
	require.Equal(t, "img1.jpg", img.header.Get("Content-Location"))
	require.Equal(t, "image/jpeg", img.header.Get("Content-Type"))
	require.Equal(t, "base64", img.header.Get("Content-Transfer-Encoding"))
	for _, line := range strings.Split(strings.TrimSpace(string(img.body)), "\r\n") {
		require.LessOrEqual(t, len(line), 76)
	}
	data, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(string(img.body), "\r\n", ""))
	require.NoError(t, err)
	require.Equal(t, f.jpg, data)
	require.Equal(t, r.MMS.Parts[1].Size, len(data))

	text := inner[2]
	require.Equal(t, "<text1>", text.header.Get("Content-ID"))
	require.Equal(t, "text1.txt", text.header.Get("Content-Location"))
	require.Equal(t, "text/plain; charset=utf-8", text.header.Get("Content-Type"))
	require.Equal(t, "Order 1001 <shipped> & on its way\n2 items — Ünïcödé ✓\nReply 1 for Track", string(text.body))
	require.Equal(t, r.MMS.Parts[2].Size, len(text.body))
	require.Equal(t, len(smil.body)+len(data)+len(text.body), r.MMS.TotalSize)
}

type mimePart struct {
	header http.Header
	body   []byte
}

// readParts splits a multipart body without decoding anything.
func readParts(tb testing.TB, body []byte, boundary string) []mimePart {
	tb.Helper()
	require.NotEmpty(tb, boundary)
	r := multipart.NewReader(bytes.NewReader(body), boundary)
	var out []mimePart
	for {
		p, err := r.NextRawPart()
		if err == io.EOF {
			return out
		}
		require.NoError(tb, err)
		b, err := io.ReadAll(p)
		require.NoError(tb, err)
		out = append(out, mimePart{header: http.Header(p.Header), body: b})
	}
}

type submitEnvelope struct {
	Header struct {
		TransactionID struct {
			XMLName        xml.Name
			Value          string `xml:",chardata"`
			MustUnderstand string `xml:"http://schemas.xmlsoap.org/soap/envelope/ mustUnderstand,attr"`
		} `xml:"TransactionID"`
	} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Header"`
	Body struct {
		SubmitReq struct {
			XMLName              xml.Name
			MM7Version           string
			SenderIdentification struct {
				VASPID, VASID string
				SenderAddress struct{ ShortCode, Number string }
			}
			Recipients     struct{ To struct{ Number string } }
			ServiceCode    string
			TimeStamp      string
			DeliveryReport string
			Subject        string
			Content        struct {
				Href string `xml:"href,attr"`
			}
		} `xml:"SubmitReq"`
	} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Body"`
}

func parseSubmitReq(tb testing.TB, data []byte) submitEnvelope {
	tb.Helper()
	var env submitEnvelope
	require.NoError(tb, xml.Unmarshal(data, &env))
	return env
}

// childOrder lists the local names of the children of the first element
// called parent.
func childOrder(tb testing.TB, data []byte, parent string) []string {
	tb.Helper()
	d := xml.NewDecoder(bytes.NewReader(data))
	depth, inside := 0, -1
	var out []string
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return out
		}
		require.NoError(tb, err)
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if inside < 0 && t.Name.Local == parent {
				inside = depth
			} else if inside > 0 && depth == inside+1 {
				out = append(out, t.Name.Local)
			}
		case xml.EndElement:
			if depth == inside {
				return out
			}
			depth--
		}
	}
}

// TestSendAnswers maps MMSC answers to send results (mm7.md §5, §8).
func TestSendAnswers(t *testing.T) {
	t.Parallel()
	f := setupRender(t)
	for _, tc := range []struct {
		name   string
		answer mmscAnswer
		kind   error // nil: success
		code   string
		id     string
	}{
		{"accepted", mmscAnswer{status: 200, ctype: "text/xml", body: submitRsp(rel6, "1000", "369500617770864640")}, nil, "", "369500617770864640"},
		{"partial success, REL-5 prefixed", mmscAnswer{status: 200, ctype: "text/xml; charset=utf-8", body: submitRsp(rel5, "1100", "A1")}, nil, "", "A1"},
		{"status in SubmitRsp: content refused", mmscAnswer{status: 200, ctype: "text/xml", body: submitRsp(rel6, "2004", "")}, unify.ErrInvalidContent, "2004", ""},
		{"status in SubmitRsp: validation error", mmscAnswer{status: 200, ctype: "text/xml", body: submitRsp(rel6, "4004", "")}, unify.ErrRejected, "4004", ""},
		{"fault 2002 address error", mmscAnswer{status: 500, ctype: "text/xml", body: faultRsp("Client", "2002")}, unify.ErrRejected, "2002", ""},
		{"fault 2004 content refused", mmscAnswer{status: 500, ctype: "text/xml", body: faultRsp("Client", "2004")}, unify.ErrInvalidContent, "2004", ""},
		{"fault 2007 with HTTP 200", mmscAnswer{status: 200, ctype: "text/xml", body: faultRsp("Client", "2007")}, unify.ErrRejected, "2007", ""},
		{"fault 3000 server error", mmscAnswer{status: 500, ctype: "text/xml", body: faultRsp("Server", "3000")}, unify.ErrTemporary, "3000", ""},
		{"fault 3001 not possible", mmscAnswer{status: 500, ctype: "text/xml", body: faultRsp("Server", "3001")}, unify.ErrTemporary, "3001", ""},
		{"fault 3002 message rejected", mmscAnswer{status: 500, ctype: "text/xml", body: faultRsp("Server", "3002")}, unify.ErrRejected, "3002", ""},
		{"fault 4000 general service error", mmscAnswer{status: 500, ctype: "text/xml", body: faultRsp("Server", "4000")}, unify.ErrTemporary, "4000", ""},
		{"fault 4001 improper identification", mmscAnswer{status: 500, ctype: "text/xml", body: faultRsp("Server", "4001")}, unify.ErrRejected, "4001", ""},
		{"fault 4002 unsupported version", mmscAnswer{status: 500, ctype: "text/xml", body: faultRsp("Server", "4002")}, unify.ErrRejected, "4002", ""},
		{"fault 4006 service unavailable", mmscAnswer{status: 500, ctype: "text/xml", body: faultRsp("Server", "4006")}, unify.ErrTemporary, "4006", ""},
		{"fault 4007 service denied", mmscAnswer{status: 500, ctype: "text/xml", body: faultRsp("Server", "4007")}, unify.ErrRejected, "4007", ""},
		{"fault without detail, Client", mmscAnswer{status: 500, ctype: "text/xml", body: faultRsp("Client", "")}, unify.ErrRejected, "2000", ""},
		{"fault without detail, Server", mmscAnswer{status: 500, ctype: "text/xml", body: faultRsp("Server", "")}, unify.ErrTemporary, "3000", ""},
		{"HTTP 429", mmscAnswer{status: 429, body: "slow down"}, unify.ErrThrottled, "HTTP 429", ""},
		{"HTTP 503 with HTML", mmscAnswer{status: 503, ctype: "text/html", body: "<html>down</html>"}, unify.ErrTemporary, "HTTP 503", ""},
		{"HTTP 401", mmscAnswer{status: 401}, unify.ErrRejected, "HTTP 401", ""},
		{"HTTP 200 garbage", mmscAnswer{status: 200, ctype: "text/xml", body: "<<<"}, unify.ErrTemporary, "HTTP 200", ""},
		{"HTTP 200 other operation", mmscAnswer{status: 200, ctype: "text/xml", body: strings.ReplaceAll(submitRsp(rel6, "1000", "x"), "SubmitRsp", "CancelRsp")}, unify.ErrTemporary, "HTTP 200", ""},
		{"SubmitRsp in a multipart", mmscAnswer{status: 200, ctype: `multipart/related; boundary="b"; type="text/xml"`,
			body: "--b\r\nContent-Type: text/xml\r\n\r\n" + submitRsp(rel6, "1000", "MP1") + "\r\n--b--\r\n"}, nil, "", "MP1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			relay := newMMSC(t, tc.answer)
			ch := newChannel(t, relay.URL+"/mm7", nil, nil)
			res, err := ch.Send(context.Background(), testMessage(f.media.URL+"/box.jpg"), testAttempt, numbered)
			if tc.kind == nil {
				require.NoError(t, err)
				require.Len(t, res.Parts, 1)
				require.Equal(t, tc.id, res.Parts[0].Ref.ID)
				require.Equal(t, strings.ToLower(tc.id), res.Parts[0].Ref.Raw)
				return
			}
			var se *unify.SendError
			require.ErrorAs(t, err, &se)
			require.Equal(t, tc.kind, se.Kind, "%v", err)
			require.Equal(t, tc.code, se.Code)
		})
	}
}

func TestSendFailsBeforeTheMMSC(t *testing.T) {
	t.Parallel()
	f := setupRender(t)
	relay := newMMSC(t) // any request fails the test
	ch := newChannel(t, relay.URL+"/mm7", nil, nil)
	tiny := &unify.Policy{Name: "tiny", MMS: unify.MMSOptions{MaxSize: 2000}}
	for _, tc := range []struct {
		name    string
		m       *unify.Message
		a       *unify.Attempt
		p       *unify.Policy
		kind    error
		message string
	}{
		{"carrier without MM7", testMessage(f.media.URL + "/box.jpg"), &unify.Attempt{ID: "a", Carrier: "other"}, numbered, unify.ErrNotCapable, "no MM7 link"},
		{"text only", &unify.Message{To: "+33612345678", Content: unify.Content{Text: "hi"}}, testAttempt, numbered, unify.ErrInvalidContent, "no media"},
		{"recipient not E.164", &unify.Message{To: "0612345678", Content: unify.Content{Media: f.m("/box.jpg")}}, testAttempt, numbered, unify.ErrRejected, "E.164"},
		{"gif too large", &unify.Message{To: "+33612345678", Content: unify.Content{Media: f.m("/anim.gif")}}, testAttempt, tiny, unify.ErrInvalidContent, "cannot be scaled"},
		{"media refused", &unify.Message{To: "+33612345678", Content: unify.Content{Media: &unify.Media{URL: "http://169.254.169.254/latest", MimeType: "image/jpeg"}}}, testAttempt, numbered, unify.ErrInvalidContent, "not allowed"},
		{"media temporarily unavailable", &unify.Message{To: "+33612345678", Content: unify.Content{Media: f.m("/busy.jpg")}}, testAttempt, numbered, unify.ErrTemporary, "HTTP 503"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ch.Send(context.Background(), tc.m, tc.a, tc.p)
			require.Equal(t, tc.kind, sendErrorKind(t, err))
			require.ErrorContains(t, err, tc.message)
		})
	}
	require.Empty(t, relay.received())
}

func TestSendScalesToTheCarrierLimit(t *testing.T) {
	t.Parallel()
	f := setupRender(t)
	relay := newMMSC(t, mmscAnswer{status: 200, ctype: "text/xml", body: submitRsp(rel6, "1000", "1")})
	ch := newChannel(t, relay.URL+"/mm7", nil, func(c *mms.Config) {
		cc := c.Carriers["sim"]
		cc.MaxSize = 9000
		c.Carriers["sim"] = cc
	})
	_, err := ch.Send(context.Background(), testMessage(f.media.URL+"/box.jpg"), testAttempt, numbered)
	require.NoError(t, err)
	req := relay.received()[0]
	_, params, err := mime.ParseMediaType(req.header.Get("Content-Type"))
	require.NoError(t, err)
	content := readParts(t, req.body, params["boundary"])[1]
	_, params, err = mime.ParseMediaType(content.header.Get("Content-Type"))
	require.NoError(t, err)
	// The MM as the phone gets it: bodies decoded, with their headers and
	// boundary lines.
	total := 0
	for _, p := range readParts(t, content.body, params["boundary"]) {
		body := p.body
		if p.header.Get("Content-Transfer-Encoding") == "base64" {
			body, err = base64.StdEncoding.DecodeString(strings.ReplaceAll(string(body), "\r\n", ""))
			require.NoError(t, err)
		}
		total += len(body) + len(params["boundary"]) + 6
		for k, vs := range p.header {
			for _, v := range vs {
				total += len(k) + len(v) + 4
			}
		}
	}
	require.Greater(t, total, 6000, "the image is not scaled to nothing")
	require.LessOrEqual(t, total, 9000, "the MM, headers included, fits max_size")
}

func TestSendTimeout(t *testing.T) {
	t.Parallel()
	f := setupRender(t)
	relay := newMMSC(t, mmscAnswer{hang: true})
	ch := newChannel(t, relay.URL+"/mm7", nil, func(c *mms.Config) { c.Timeout = 200 * time.Millisecond })
	start := time.Now()
	_, err := ch.Send(context.Background(), testMessage(f.media.URL+"/box.jpg"), testAttempt, numbered)
	require.Equal(t, unify.ErrTemporary, sendErrorKind(t, err))
	require.Less(t, time.Since(start), 5*time.Second)
}

// PlusNumbers and the sender's address kinds.
func TestSendAddresses(t *testing.T) {
	t.Parallel()
	f := setupRender(t)
	for _, tc := range []struct {
		sender string
		plus   bool
		want   string // SenderAddress element
		to     string
	}{
		{"36000", false, "<SenderAddress><ShortCode>36000</ShortCode></SenderAddress>", "<Number>33612345678</Number>"},
		{"+33700000001", false, "<SenderAddress><Number>33700000001</Number></SenderAddress>", "<Number>33612345678</Number>"},
		{"33700000001", true, "<SenderAddress><Number>+33700000001</Number></SenderAddress>", "<Number>+33612345678</Number>"},
		{"news@acme.example", false, "<SenderAddress><RFC2822Address>news@acme.example</RFC2822Address></SenderAddress>", "<Number>33612345678</Number>"},
		{"", false, "", "<Number>33612345678</Number>"},
	} {
		t.Run(tc.sender, func(t *testing.T) {
			t.Parallel()
			relay := newMMSC(t, mmscAnswer{status: 200, ctype: "text/xml", body: submitRsp(rel6, "1000", "1")})
			ch := newChannel(t, relay.URL+"/mm7", nil, func(c *mms.Config) {
				c.Senders = map[string]string{"acme": tc.sender}
				cc := c.Carriers["sim"]
				cc.PlusNumbers = tc.plus
				c.Carriers["sim"] = cc
			})
			_, err := ch.Send(context.Background(), testMessage(f.media.URL+"/box.jpg"), testAttempt, numbered)
			require.NoError(t, err)
			body := string(relay.received()[0].body)
			if tc.want == "" {
				require.NotContains(t, body, "SenderAddress")
			} else {
				require.Contains(t, body, tc.want)
			}
			require.Contains(t, body, "<Recipients><To>"+tc.to+"</To></Recipients>")
		})
	}
}
