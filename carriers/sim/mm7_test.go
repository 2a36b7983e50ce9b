package sim_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"gateway/carriers/sim"
)

const (
	soapNS = "http://schemas.xmlsoap.org/soap/envelope/"
	rel6NS = "http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-6-MM7-1-4"
	rel5NS = "http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-5-MM7-1-0"
)

// testImage is a (truncated) JPEG: what matters is that its bytes survive
// base64 both ways.
var testImage = append([]byte{0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00}, bytes.Repeat([]byte{0x00, 0x80, 0xff, 0x7f}, 60)...)

// submitOpts varies how a SubmitReq is written: prefixes and namespace.
type submitOpts struct {
	env     string // SOAP envelope prefix
	mm7     string // prefix of MM7 elements; "" = default namespace
	ns      string
	version string
}

// submitReq writes the multipart/related SubmitReq of mm7.md §4 and §9 by
// hand: the SOAP part, then a multipart/related content with a SMIL, a
// base64 JPEG and a text part.
func submitReq(o submitOpts) (ctype, body string) {
	if o.env == "" {
		o.env = "env"
	}
	if o.ns == "" {
		o.ns, o.version = rel6NS, "6.8.0"
	}
	p := ""
	decl := `xmlns="` + o.ns + `"`
	if o.mm7 != "" {
		p, decl = o.mm7+":", `xmlns:`+o.mm7+`="`+o.ns+`"`
	}
	e := func(name, inner string) string { return "<" + p + name + ">" + inner + "</" + p + name + ">" }
	img := base64.StdEncoding.EncodeToString(testImage)
	img = img[:76] + "\n" + img[76:152] + "\n" + img[152:]
	soap := `<?xml version="1.0" encoding="UTF-8"?>
<` + o.env + `:Envelope xmlns:` + o.env + `="` + soapNS + `">
  <` + o.env + `:Header>
    <tx:TransactionID xmlns:tx="` + o.ns + `" ` + o.env + `:mustUnderstand="1">gw-0001</tx:TransactionID>
  </` + o.env + `:Header>
  <` + o.env + `:Body>
    <` + p + `SubmitReq ` + decl + `>
      ` + e("MM7Version", o.version) + `
      ` + e("SenderIdentification", e("VASPID", "acme")+e("VASID", "gateway")+e("SenderAddress", e("ShortCode", "36000"))) + `
      ` + e("Recipients", e("To", e("Number", "33612345678"))) + `
      ` + e("ServiceCode", "promo-1") + `
      ` + e("TimeStamp", "2024-05-21T18:54:48+00:00") + `
      ` + e("DeliveryReport", "true") + `
      ` + e("Subject", "Your order") + `
      <` + p + `Content href="cid:mms-content" allowAdaptations="true"/>
    </` + p + `SubmitReq>
  </` + o.env + `:Body>
</` + o.env + `:Envelope>`
	body = `--outer
Content-Type: text/xml; charset=utf-8
Content-ID: <soap-start>

` + soap + `
--outer
Content-Type: multipart/related; boundary="inner"; type="application/smil"; start="<smil>"
Content-ID: <mms-content>

--inner
Content-Type: application/smil; charset=utf-8
Content-ID: <smil>

<smil><head><layout><root-layout width="100%" height="100%"/>
<region id="Image" left="0" top="0" width="100%" height="70%" fit="meet"/>
<region id="Text" left="0" top="70%" width="100%" height="30%" fit="scroll"/></layout></head>
<body><par dur="5000ms"><img src="cid:img1" region="Image"/><text src="cid:text1" region="Text"/></par></body></smil>
--inner
Content-Type: image/jpeg
Content-ID: <img1>
Content-Transfer-Encoding: base64

` + img + `
--inner
Content-Type: text/plain; charset=utf-8
Content-ID: <text1>

Your order has shipped.
--inner--
--outer--
`
	return `multipart/related; boundary="outer"; type="text/xml"; start="<soap-start>"`,
		strings.ReplaceAll(body, "\n", "\r\n")
}

// mm7Response is a relay answer, decoded namespace-aware (REL-6).
type mm7Response struct {
	XMLName xml.Name `xml:"http://schemas.xmlsoap.org/soap/envelope/ Envelope"`
	Header  struct {
		TransactionID string `xml:"http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-6-MM7-1-4 TransactionID"`
	} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Header"`
	Body struct {
		SubmitRsp *struct {
			MM7Version string    `xml:"http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-6-MM7-1-4 MM7Version"`
			Status     mm7Status `xml:"http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-6-MM7-1-4 Status"`
			MessageID  string    `xml:"http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-6-MM7-1-4 MessageID"`
		} `xml:"http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-6-MM7-1-4 SubmitRsp"`
		Fault *struct {
			FaultCode   string `xml:"faultcode"`
			FaultString string `xml:"faultstring"`
			Detail      struct {
				RSErrorRsp struct {
					MM7Version string    `xml:"http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-6-MM7-1-4 MM7Version"`
					Status     mm7Status `xml:"http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-6-MM7-1-4 Status"`
				} `xml:"http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-6-MM7-1-4 RSErrorRsp"`
			} `xml:"detail"`
		} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Fault"`
	} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Body"`
}

type mm7Status struct {
	StatusCode int    `xml:"http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-6-MM7-1-4 StatusCode"`
	StatusText string `xml:"http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-6-MM7-1-4 StatusText"`
	Details    string `xml:"http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-6-MM7-1-4 Details"`
}

func postMM7(tb testing.TB, base, ctype, body string) (int, []byte) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/mm7", strings.NewReader(body))
	require.NoError(tb, err)
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("SOAPAction", `""`)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(tb, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(tb, err)
	require.Equal(tb, "text/xml; charset=utf-8", resp.Header.Get("Content-Type"))
	return resp.StatusCode, b
}

func mm7Setup(tb testing.TB, cfg sim.Config, h *hook) (*sim.Sim, string) {
	tb.Helper()
	cfg.HTTPAddr = "127.0.0.1:0"
	if cfg.MM7VASPID == "" {
		cfg.MM7VASPID = "acme"
	}
	if h != nil {
		cfg.MM7CallbackURL = h.srv.URL + "/webhooks/mm7/sim"
	}
	if cfg.CallbackRetryDelay == 0 {
		cfg.CallbackRetryDelay = 2 * time.Millisecond
	}
	s := start(tb, cfg)
	return s, s.HTTPURL()
}

// submitOK submits a valid SubmitReq and returns the MessageID.
func submitOK(tb testing.TB, base string) string {
	tb.Helper()
	ct, body := submitReq(submitOpts{})
	code, resp := postMM7(tb, base, ct, body)
	require.Equal(tb, http.StatusOK, code, "%s", resp)
	var r mm7Response
	require.NoError(tb, xml.Unmarshal(resp, &r))
	require.NotNil(tb, r.Body.SubmitRsp, "%s", resp)
	return r.Body.SubmitRsp.MessageID
}

func TestMM7SubmitAccepted(t *testing.T) {
	t.Parallel()
	s, base := mm7Setup(t, sim.Config{MM7MaxSize: 614400}, nil)
	ct, body := submitReq(submitOpts{})
	code, resp := postMM7(t, base, ct, body)
	require.Equal(t, http.StatusOK, code, "%s", resp)
	var r mm7Response
	require.NoError(t, xml.Unmarshal(resp, &r))
	require.Equal(t, "gw-0001", r.Header.TransactionID)
	require.Nil(t, r.Body.Fault)
	require.NotNil(t, r.Body.SubmitRsp, "%s", resp)
	require.Equal(t, "6.8.0", r.Body.SubmitRsp.MM7Version)
	require.Equal(t, 1000, r.Body.SubmitRsp.Status.StatusCode)
	require.Equal(t, "Success", r.Body.SubmitRsp.Status.StatusText)
	require.NotEmpty(t, r.Body.SubmitRsp.MessageID)

	msgs := s.MMSMessages()
	require.Len(t, msgs, 1)
	m := msgs[0]
	require.Equal(t, r.Body.SubmitRsp.MessageID, m.MessageID)
	require.Equal(t, "gw-0001", m.TransactionID)
	require.Equal(t, rel6NS, m.Namespace)
	require.Equal(t, "6.8.0", m.MM7Version)
	require.Equal(t, "acme", m.VASPID)
	require.Equal(t, "gateway", m.VASID)
	require.Equal(t, &sim.MM7Address{Kind: "ShortCode", Value: "36000"}, m.Sender)
	require.Equal(t, []sim.MM7Address{{Field: "To", Kind: "Number", Value: "33612345678"}}, m.Recipients)
	require.Equal(t, "Your order", m.Subject)
	require.Equal(t, "promo-1", m.ServiceCode)
	require.True(t, m.DeliveryReport)
	require.Contains(t, m.SMIL, `<img src="cid:img1"`)
	require.Contains(t, m.Envelope, "SubmitReq")
	require.Len(t, m.Parts, 2)
	require.Equal(t, sim.MMSPart{ContentType: "image/jpeg", ContentID: "img1", Size: len(testImage), Data: testImage}, m.Parts[0])
	require.Equal(t, sim.MMSPart{ContentType: "text/plain; charset=utf-8", ContentID: "text1", Size: 23, Data: []byte("Your order has shipped.")}, m.Parts[1])
	st := s.Stats()
	require.Equal(t, 1, st.MM7Submits)
	require.Equal(t, 1, st.MM7Accepted)

	// Message ids are unique.
	require.NotEqual(t, m.MessageID, submitOK(t, base))
}

func TestMM7SubmitDialects(t *testing.T) {
	t.Parallel()
	_, base := mm7Setup(t, sim.Config{}, nil)
	for _, o := range []submitOpts{
		{env: "SOAP-ENV"},
		{env: "soap-env", mm7: "mm7"},
		{mm7: "m", ns: rel5NS, version: "5.3.0"},
		{ns: "http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-6-MM7-1-0", version: "6.3.0"},
	} {
		ct, body := submitReq(o)
		code, resp := postMM7(t, base, ct, body)
		require.Equal(t, http.StatusOK, code, "%+v: %s", o, resp)
		// The answer is in the request's namespace and version.
		require.Contains(t, string(resp), `xmlns="`+o.nsOr(rel6NS)+`"`)
		require.Contains(t, string(resp), "<StatusCode>1000</StatusCode>")
	}
}

func (o submitOpts) nsOr(def string) string {
	if o.ns == "" {
		return def
	}
	return o.ns
}

func TestMM7SubmitErrors(t *testing.T) {
	t.Parallel()
	_, base := mm7Setup(t, sim.Config{MM7MaxSize: 1000}, nil)
	for _, tc := range []struct {
		name     string
		old, new string // one replacement in the valid request ("" old: none)
		ctype    string // replaces the Content-Type when set
		code     int
		tid      bool // TransactionID echoed
	}{
		{name: "json content type", ctype: "application/json", code: 2007},
		{name: "no boundary", ctype: "multipart/related", code: 2007},
		{name: "start part missing", ctype: `multipart/related; boundary="outer"; start="<nope>"`, code: 2007},
		{name: "broken XML", old: "</env:Envelope>", code: 2007},
		{name: "not an Envelope", old: "env:Envelope", new: "env:Letter", code: 2007},
		{name: "SOAP 1.2 envelope", old: `xmlns:env="` + soapNS + `"`, new: `xmlns:env="http://www.w3.org/2003/05/soap-envelope"`, code: 2007},
		{name: "unknown MM7 release", old: "REL-6-MM7-1-4", new: "REL-4-MM7-1-0", code: 4002, tid: true},
		{name: "not an MM7 namespace", old: `xmlns="` + rel6NS + `"`, new: `xmlns="urn:example"`, code: 4002, tid: true},
		{name: "version of another release", old: "<MM7Version>6.8.0</MM7Version>", new: "<MM7Version>5.3.0</MM7Version>", code: 4002, tid: true},
		{name: "bad version", old: "<MM7Version>6.8.0</MM7Version>", new: "<MM7Version>six</MM7Version>", code: 4002, tid: true},
		{name: "other operation", old: "SubmitReq", new: "CancelReq", code: 4003, tid: true},
		{name: "no TransactionID", old: `<tx:TransactionID xmlns:tx="` + rel6NS + `" env:mustUnderstand="1">gw-0001</tx:TransactionID>`, code: 4004},
		{name: "no MM7Version", old: "<MM7Version>6.8.0</MM7Version>", code: 4004, tid: true},
		{name: "no SenderIdentification", old: "<SenderIdentification><VASPID>acme</VASPID><VASID>gateway</VASID><SenderAddress><ShortCode>36000</ShortCode></SenderAddress></SenderIdentification>", code: 4004, tid: true},
		{name: "wrong VASPID", old: "<VASPID>acme</VASPID>", new: "<VASPID>evil</VASPID>", code: 4001, tid: true},
		{name: "no VASPID", old: "<VASPID>acme</VASPID>", code: 4001, tid: true},
		{name: "no Recipients", old: "<Recipients><To><Number>33612345678</Number></To></Recipients>", code: 4004, tid: true},
		{name: "empty Recipients", old: "<To><Number>33612345678</Number></To>", code: 2002, tid: true},
		{name: "To without address", old: "<Number>33612345678</Number>", code: 2002, tid: true},
		{name: "bad Number", old: "<Number>33612345678</Number>", new: "<Number>33-61</Number>", code: 2002, tid: true},
		{name: "bad ShortCode", old: "<ShortCode>36000</ShortCode>", new: "<ShortCode>36 000</ShortCode>", code: 2002, tid: true},
		{name: "unknown element", old: "<Subject>", new: "<Foo>1</Foo><Subject>", code: 4004, tid: true},
		{name: "unqualified element", old: "<Subject>", new: `<Subject xmlns="">`, code: 4004, tid: true},
		{name: "repeated element", old: "<Subject>", new: "<Subject>a</Subject><Subject>", code: 4004, tid: true},
		{name: "bad boolean", old: "<DeliveryReport>true</DeliveryReport>", new: "<DeliveryReport>yes</DeliveryReport>", code: 4004, tid: true},
		{name: "bad TimeStamp", old: "2024-05-21T18:54:48+00:00", new: "yesterday", code: 4004, tid: true},
		{name: "no Content", old: `<Content href="cid:mms-content" allowAdaptations="true"/>`, code: 4004, tid: true},
		{name: "href not cid", old: `href="cid:mms-content"`, new: `href="http://example.com/c"`, code: 2007, tid: true},
		{name: "href to no part", old: `href="cid:mms-content"`, new: `href="cid:nope"`, code: 2007, tid: true},
		{name: "no SMIL", old: "Content-Type: application/smil; charset=utf-8", new: "Content-Type: text/plain", code: 2007, tid: true},
		{name: "SMIL src to no part", old: `src="cid:img1"`, new: `src="cid:img2"`, code: 2007, tid: true},
		{name: "SMIL not XML", old: "<smil><head>", new: "<smil><head", code: 2007, tid: true},
		{name: "bad base64", old: "Content-Transfer-Encoding: base64\r\n\r\n", new: "Content-Transfer-Encoding: base64\r\n\r\n!!", code: 2007, tid: true},
		{name: "empty part", old: "Your order has shipped.", code: 2007, tid: true},
		{name: "too big", old: "Your order has shipped.", new: strings.Repeat("x", 1000), code: 2004, tid: true},
	} {
		ct, body := submitReq(submitOpts{})
		if tc.ctype != "" {
			ct = tc.ctype
		}
		if tc.old != "" {
			require.Contains(t, body, tc.old, tc.name)
			body = strings.ReplaceAll(body, tc.old, tc.new)
		}
		code, resp := postMM7(t, base, ct, body)
		require.Equal(t, http.StatusInternalServerError, code, "%s: %s", tc.name, resp)
		var r mm7Response
		require.NoError(t, xml.Unmarshal(resp, &r), "%s: %s", tc.name, resp)
		require.NotNil(t, r.Body.Fault, "%s: %s", tc.name, resp)
		// Faults of this test's namespace errors are written in the default
		// REL-6 namespace, so one struct decodes them all.
		st := r.Body.Fault.Detail.RSErrorRsp.Status
		require.Equal(t, tc.code, st.StatusCode, "%s: %s", tc.name, st.Details)
		require.NotEmpty(t, st.StatusText)
		require.NotEmpty(t, st.Details)
		wantFault := ":Server"
		if tc.code/1000 == 2 {
			wantFault = ":Client"
		}
		require.True(t, strings.HasSuffix(r.Body.Fault.FaultCode, wantFault), "%s: %s", tc.name, r.Body.Fault.FaultCode)
		if tc.tid {
			require.Equal(t, "gw-0001", r.Header.TransactionID, tc.name)
		} else {
			require.Empty(t, r.Header.TransactionID, tc.name)
		}
	}
}

// mm7Callback is a DeliveryReportReq or DeliverReq, decoded namespace-aware.
type mm7Callback struct {
	XMLName xml.Name `xml:"http://schemas.xmlsoap.org/soap/envelope/ Envelope"`
	Header  struct {
		TransactionID string `xml:"http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-6-MM7-1-4 TransactionID"`
	} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Header"`
	Body struct {
		Report *struct {
			MM7Version string `xml:"http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-6-MM7-1-4 MM7Version"`
			MessageID  string `xml:"http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-6-MM7-1-4 MessageID"`
			Recipient  string `xml:"http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-6-MM7-1-4 Recipient>Number"`
			Sender     string `xml:"http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-6-MM7-1-4 Sender>ShortCode"`
			Date       string `xml:"http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-6-MM7-1-4 Date"`
			MMStatus   string `xml:"http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-6-MM7-1-4 MMStatus"`
			StatusText string `xml:"http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-6-MM7-1-4 StatusText"`
		} `xml:"http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-6-MM7-1-4 DeliveryReportReq"`
		Deliver *struct {
			MM7Version string `xml:"http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-6-MM7-1-4 MM7Version"`
			LinkedID   string `xml:"http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-6-MM7-1-4 LinkedID"`
			Sender     string `xml:"http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-6-MM7-1-4 Sender>Number"`
			To         string `xml:"http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-6-MM7-1-4 Recipients>To>ShortCode"`
			TimeStamp  string `xml:"http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-6-MM7-1-4 TimeStamp"`
			Content    struct {
				Href string `xml:"href,attr"`
			} `xml:"http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-6-MM7-1-4 Content"`
		} `xml:"http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-6-MM7-1-4 DeliverReq"`
	} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Body"`
}

// vaspAnswer is the gateway's answer to an MM7 callback: rsp (in REL-6)
// with StatusCode 1000, echoing the TransactionID of env.
func vaspAnswer(tb testing.TB, env []byte, rsp string) []byte {
	tb.Helper()
	var c mm7Callback
	require.NoError(tb, xml.Unmarshal(env, &c), "%s", env)
	return []byte(`<?xml version="1.0"?><S:Envelope xmlns:S="` + soapNS + `"><S:Header>` +
		`<TransactionID xmlns="` + rel6NS + `" S:mustUnderstand="1">` + c.Header.TransactionID + `</TransactionID></S:Header>` +
		`<S:Body><` + rsp + ` xmlns="` + rel6NS + `"><MM7Version>6.8.0</MM7Version><Status><StatusCode>1000</StatusCode>` +
		`<StatusText>Success</StatusText></Status></` + rsp + `></S:Body></S:Envelope>`)
}

// soapOf returns the SOAP envelope of a callback (the root part of a
// multipart/related, or the body itself) and the other parts by Content-ID.
func soapOf(tb testing.TB, r hookReq) ([]byte, map[string]*multipart.Part, map[string][]byte) {
	tb.Helper()
	mt, params, err := mime.ParseMediaType(r.header.Get("Content-Type"))
	require.NoError(tb, err)
	if mt == "text/xml" {
		return r.body, nil, nil
	}
	require.Equal(tb, "multipart/related", mt)
	require.Equal(tb, "text/xml", params["type"])
	parts, data := map[string]*multipart.Part{}, map[string][]byte{}
	mr := multipart.NewReader(bytes.NewReader(r.body), params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		require.NoError(tb, err)
		b, err := io.ReadAll(p)
		require.NoError(tb, err)
		id := p.Header.Get("Content-ID")
		parts[id], data[id] = p, b
	}
	soap, ok := data[params["start"]]
	require.True(tb, ok, "no start part %s", params["start"])
	return soap, parts, data
}

func TestMM7Report(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	answers := 0
	h := newHook(t, func(r hookReq) (int, string, []byte) {
		mu.Lock()
		defer mu.Unlock()
		answers++
		if answers == 1 { // a DeliveryReportRsp that does not echo the TransactionID is no acknowledgement
			return 200, "text/xml", bytes.Replace(vaspAnswer(t, r.body, "DeliveryReportRsp"), []byte(">sim-"), []byte(">other-"), 1)
		}
		return 200, "text/xml; charset=utf-8", vaspAnswer(t, r.body, "DeliveryReportRsp")
	}, 500)
	s, base := mm7Setup(t, sim.Config{}, h)
	id := submitOK(t, base)
	require.NoError(t, s.MM7Report(id, "Expired"))
	waitStats(t, s, func(st sim.Stats) bool { return st.MM7CallbacksAcked == 1 })
	reqs := h.wait(3)
	require.Len(t, reqs, 3)
	require.Equal(t, 2, s.Stats().MM7CallbackRetries)
	for _, r := range reqs {
		require.Equal(t, reqs[0].body, r.body, "retries repeat the same request")
	}
	require.Equal(t, "text/xml; charset=utf-8", reqs[0].header.Get("Content-Type"))
	var c mm7Callback
	require.NoError(t, xml.Unmarshal(reqs[0].body, &c))
	require.NotEmpty(t, c.Header.TransactionID)
	dr := c.Body.Report
	require.NotNil(t, dr, "%s", reqs[0].body)
	require.Equal(t, "6.8.0", dr.MM7Version)
	require.Equal(t, id, dr.MessageID)
	require.Equal(t, "33612345678", dr.Recipient)
	require.Equal(t, "36000", dr.Sender)
	require.Equal(t, "Expired", dr.MMStatus)
	require.NotEmpty(t, dr.StatusText)
	_, err := time.Parse(time.RFC3339, dr.Date)
	require.NoError(t, err)
	require.Equal(t, "Expired", s.MMSMessages()[0].Status)

	for _, tc := range []struct{ id, status string }{{"nope", "Retrieved"}, {id, "Delivered"}} {
		require.Error(t, s.MM7Report(tc.id, tc.status))
	}
}

func TestMM7AutoReport(t *testing.T) {
	t.Parallel()
	h := newHook(t, func(r hookReq) (int, string, []byte) {
		return 200, "text/xml", vaspAnswer(t, r.body, "DeliveryReportRsp")
	})
	s, base := mm7Setup(t, sim.Config{MM7AutoReport: 5 * time.Millisecond}, h)
	id := submitOK(t, base)
	// No report asked: none sent.
	ct, body := submitReq(submitOpts{})
	code, resp := postMM7(t, base, ct, strings.Replace(body, "<DeliveryReport>true", "<DeliveryReport>false", 1))
	require.Equal(t, 200, code, "%s", resp)
	waitStats(t, s, func(st sim.Stats) bool { return st.MM7CallbacksAcked == 1 })
	var c mm7Callback
	require.NoError(t, xml.Unmarshal(h.wait(1)[0].body, &c))
	require.Equal(t, id, c.Body.Report.MessageID)
	require.Equal(t, "Retrieved", c.Body.Report.MMStatus)
	msgs := s.MMSMessages()
	require.Equal(t, "Retrieved", msgs[0].Status)
	require.False(t, msgs[1].DeliveryReport)
	require.Equal(t, 1, s.Stats().MM7Reports)
}

func TestMM7DeliverMO(t *testing.T) {
	t.Parallel()
	h := newHook(t, func(r hookReq) (int, string, []byte) {
		soap, _, _ := soapOf(t, r)
		return 200, "text/xml", vaspAnswer(t, soap, "DeliverRsp")
	})
	s, base := mm7Setup(t, sim.Config{}, h)
	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{1, 2, 3}, 50)...)
	code, body := httpDo(t, http.MethodPost, base+"/control/mm7/mo",
		`{"from":"+33612345678","to":"ACME","text":"Voilà","image_base64":"`+base64.StdEncoding.EncodeToString(png)+`"}`)
	require.Equal(t, 200, code, "%s", body)
	waitStats(t, s, func(st sim.Stats) bool { return st.MM7CallbacksAcked == 1 })

	soap, parts, data := soapOf(t, h.wait(1)[0])
	var c mm7Callback
	require.NoError(t, xml.Unmarshal(soap, &c))
	d := c.Body.Deliver
	require.NotNil(t, d, "%s", soap)
	require.Equal(t, "6.8.0", d.MM7Version)
	require.Equal(t, "+33612345678", d.Sender)
	require.Equal(t, "ACME", d.To)
	require.NotEmpty(t, d.LinkedID)
	require.NotEmpty(t, c.Header.TransactionID)
	_, err := time.Parse(time.RFC3339, d.TimeStamp)
	require.NoError(t, err)

	// The content part is a multipart/related with a SMIL naming its parts.
	cid := "<" + strings.TrimPrefix(d.Content.Href, "cid:") + ">"
	cp, ok := parts[cid]
	require.True(t, ok, "no part %s", cid)
	mt, params, err := mime.ParseMediaType(cp.Header.Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "multipart/related", mt)
	inner := map[string][]byte{}
	types := map[string]string{}
	mr := multipart.NewReader(bytes.NewReader(data[cid]), params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		b, err := io.ReadAll(p)
		require.NoError(t, err)
		if p.Header.Get("Content-Transfer-Encoding") == "base64" {
			b, err = base64.StdEncoding.DecodeString(strings.NewReplacer("\r", "", "\n", "").Replace(string(b)))
			require.NoError(t, err)
		}
		inner[p.Header.Get("Content-ID")], types[p.Header.Get("Content-ID")] = b, p.Header.Get("Content-Type")
	}
	smil := string(inner[params["start"]])
	require.Contains(t, types[params["start"]], "application/smil")
	for _, ref := range []string{"img1", "text1"} {
		require.Contains(t, smil, `src="cid:`+ref+`"`)
		require.Contains(t, inner, "<"+ref+">")
	}
	require.Equal(t, png, inner["<img1>"])
	require.Equal(t, "image/png", types["<img1>"])
	require.Equal(t, "Voilà", string(inner["<text1>"]))
	require.Equal(t, 1, s.Stats().MM7MO)

	for _, in := range []string{
		`{"from":"ACME","to":"36000","text":"x"}`,
		`{"from":"+33612345678","to":"","text":"x"}`,
		`{"from":"+33612345678","to":"36000"}`,
		`{"from":"+33612345678","to":"36000","image_base64":"` + base64.StdEncoding.EncodeToString([]byte("not an image")) + `"}`,
	} {
		code, _ := httpDo(t, http.MethodPost, base+"/control/mm7/mo", in)
		require.Equal(t, 400, code, in)
	}
}

func TestMM7Control(t *testing.T) {
	t.Parallel()
	h := newHook(t, func(r hookReq) (int, string, []byte) {
		return 200, "text/xml", vaspAnswer(t, r.body, "DeliveryReportRsp")
	})
	s, base := mm7Setup(t, sim.Config{}, nil)

	// Injected faults answer after parsing, echoing the TransactionID.
	code, body := httpDo(t, http.MethodPost, base+"/control/mm7/fail", `{"count":1,"code":4006}`)
	require.Equal(t, 200, code, "%s", body)
	ct, req := submitReq(submitOpts{})
	code, resp := postMM7(t, base, ct, req)
	require.Equal(t, 500, code)
	var r mm7Response
	require.NoError(t, xml.Unmarshal(resp, &r))
	require.Equal(t, 4006, r.Body.Fault.Detail.RSErrorRsp.Status.StatusCode)
	require.Equal(t, "gw-0001", r.Header.TransactionID)
	id := submitOK(t, base)

	for _, tc := range []struct {
		path, body string
		want       int
	}{
		{"/control/mm7/fail", `{"count":1}`, 400},
		{"/control/mm7/fail", `{"count":1,"code":1000}`, 400},
		{"/control/mm7/report", `{"message_id":"` + id + `","status":"Retrieved"}`, 409}, // no callback URL yet
		{"/control/mm7/webhook", `{"url":"` + h.srv.URL + `"}`, 200},
		{"/control/mm7/report", `{"message_id":"nope","status":"Retrieved"}`, 404},
		{"/control/mm7/report", `{"message_id":"` + id + `","status":"Gone"}`, 400},
		{"/control/mm7/report", `{"message_id":"` + id + `","status":"Retrieved"}`, 200},
	} {
		code, body := httpDo(t, http.MethodPost, base+tc.path, tc.body)
		require.Equal(t, tc.want, code, "%s %s: %s", tc.path, tc.body, body)
	}
	waitStats(t, s, func(st sim.Stats) bool { return st.MM7CallbacksAcked == 1 })

	code, body = httpDo(t, http.MethodGet, base+"/control/mm7/messages", "")
	require.Equal(t, 200, code)
	var list []sim.MMS
	require.NoError(t, json.Unmarshal(body, &list))
	require.Len(t, list, 1)
	require.Equal(t, id, list[0].MessageID)
	require.Equal(t, "Retrieved", list[0].Status)
	require.Equal(t, testImage, list[0].Parts[0].Data)

	// One part's bytes, for the handset page.
	resp2, err := http.Get(base + "/control/mm7/messages/" + id + "/parts/0")
	require.NoError(t, err)
	img, err := io.ReadAll(resp2.Body)
	require.NoError(t, err)
	require.NoError(t, resp2.Body.Close())
	require.Equal(t, "image/jpeg", resp2.Header.Get("Content-Type"))
	require.Equal(t, testImage, img)
	code, _ = httpDo(t, http.MethodGet, base+fmt.Sprintf("/control/mm7/messages/%s/parts/9", id), "")
	require.Equal(t, 404, code)
}
