package mms_test

import (
	"context"
	"encoding/base64"
	"encoding/xml"
	"mime"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"gateway/sms/mms"
	"gateway/unify"
)

// reportReq writes a DeliveryReportReq the way different MMSCs do: prefix
// is the MM7 prefix ("" for a default namespace), envPrefix the SOAP one.
func reportReq(ns, envPrefix, prefix, status, textElem string) string {
	p := ""
	decl := ` xmlns="` + ns + `"`
	if prefix != "" {
		p = prefix + ":"
		decl = ` xmlns:` + prefix + `="` + ns + `"`
	}
	return `<?xml version="1.0" encoding="UTF-8"?>
<` + envPrefix + `:Envelope xmlns:` + envPrefix + `="http://schemas.xmlsoap.org/soap/envelope/">
  <` + envPrefix + `:Header>
    <` + p + `TransactionID` + decl + ` ` + envPrefix + `:mustUnderstand="1">dr-42</` + p + `TransactionID>
  </` + envPrefix + `:Header>
  <` + envPrefix + `:Body>
    <` + p + `DeliveryReportReq` + decl + `>
      <` + p + `MM7Version>6.8.0</` + p + `MM7Version>
      <` + p + `MessageID>369500617770864640AB</` + p + `MessageID>
      <` + p + `Recipient><` + p + `Number>33612345678</` + p + `Number></` + p + `Recipient>
      <` + p + `Sender><` + p + `ShortCode>36000</` + p + `ShortCode></` + p + `Sender>
      <` + p + `Date>2026-11-25T14:03:51.749Z</` + p + `Date>
      <` + p + `MMStatus>` + status + `</` + p + `MMStatus>
      <` + p + textElem + `>Some text</` + p + textElem + `>
      <` + p + `UACapabilities UAProf="x" TimeStamp="2026-11-25T14:03:51Z"/>
    </` + p + `DeliveryReportReq>
  </` + envPrefix + `:Body>
</` + envPrefix + `:Envelope>`
}

func TestParseReport(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 25, 14, 3, 51, 749e6, time.UTC)
	for _, tc := range []struct {
		name   string
		body   string
		status unify.Status
		record bool
		errStr string
	}{
		{"REL-6 default namespace, retrieved", reportReq(rel6, "env", "", "Retrieved", "StatusText"), unify.StatusDelivered, true, ""},
		{"REL-5 mm7 prefix, SOAP-ENV", reportReq(rel5, "SOAP-ENV", "mm7", "Retrieved", "StatusText"), unify.StatusDelivered, true, ""},
		{"forwarded", reportReq(rel6, "soap-env", "", "Forwarded", "StatusText"), unify.StatusDelivered, true, ""},
		{"expired", reportReq(rel6, "env", "m", "Expired", "StatusText"), unify.StatusExpired, true, "Expired: Some text"},
		{"rejected, MMStatusText", reportReq(rel6, "env", "", "Rejected", "MMStatusText"), unify.StatusFailed, true, "Rejected: Some text"},
		{"unrecognised", reportReq(rel6, "env", "", "Unrecognised", "StatusText"), unify.StatusFailed, true, "Unrecognised: Some text"},
		{"lower case", reportReq(rel6, "env", "", "retrieved", "StatusText"), unify.StatusDelivered, true, ""},
		{"deferred: pending", reportReq(rel6, "env", "", "Deferred", "StatusText"), "", false, ""},
		{"indeterminate: unknown", reportReq(rel6, "env", "", "Indeterminate", "StatusText"), "", false, ""},
		{"unheard of", reportReq(rel6, "env", "", "Teleported", "StatusText"), "", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, err := mms.ParseRequest("text/xml; charset=utf-8", []byte(tc.body))
			require.NoError(t, err)
			require.Equal(t, "DeliveryReportReq", req.Operation)
			require.Equal(t, "dr-42", req.TransactionID)
			require.Equal(t, "6.8.0", req.Version)
			require.Equal(t, "33612345678", req.Report.Recipient)
			require.Equal(t, "36000", req.Report.Sender)
			require.Equal(t, at, req.Report.Date)
			rc, record, err := mms.ReceiptOf("sim", req.Report, fixedNow)
			require.NoError(t, err)
			require.Equal(t, tc.record, record)
			if !record {
				return
			}
			require.Equal(t, unify.Receipt{
				Channel: unify.ChannelMMS, Carrier: "sim", Status: tc.status, Error: tc.errStr, At: at,
				Ref: unify.ExternalRef{ID: "369500617770864640AB", Raw: "369500617770864640ab"},
			}, rc)
		})
	}
}

// moBody writes a multipart/related DeliverReq with a SMIL, a text part and
// an image, as an MMSC would (the content nested or flat).
func moBody(ns string, nested bool, textPart string) (ctype string, body []byte) {
	soap := `<?xml version="1.0"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/">
  <SOAP-ENV:Header><mm7:TransactionID xmlns:mm7="` + ns + `" SOAP-ENV:mustUnderstand="1">mo-7</mm7:TransactionID></SOAP-ENV:Header>
  <SOAP-ENV:Body>
    <mm7:DeliverReq xmlns:mm7="` + ns + `">
      <mm7:MM7Version>5.3.0</mm7:MM7Version>
      <mm7:MMSRelayServerID>mmsc.example</mm7:MMSRelayServerID>
      <mm7:LinkedID>1000001</mm7:LinkedID>
      <mm7:Sender><mm7:RFC2822Address>+33612345678/TYPE=PLMN</mm7:RFC2822Address></mm7:Sender>
      <mm7:Recipients><mm7:To><mm7:Number displayOnly="false">36000</mm7:Number></mm7:To></mm7:Recipients>
      <mm7:TimeStamp>2026-11-25T14:03:51Z</mm7:TimeStamp>
      <mm7:Subject>photo</mm7:Subject>
      <mm7:Content href="cid:mo-content"/>
    </mm7:DeliverReq>
  </SOAP-ENV:Body>
</SOAP-ENV:Envelope>`
	img := base64.StdEncoding.EncodeToString([]byte("\xff\xd8\xff\xe0 a tiny jpeg"))
	content := "--inner\r\nContent-Type: application/smil\r\nContent-ID: <smil>\r\n\r\n<smil><body><par><img src=\"cid:i\"/><text src=\"cid:t\"/></par></body></smil>\r\n" +
		"--inner\r\nContent-Type: image/jpeg\r\nContent-ID: <i>\r\nContent-Transfer-Encoding: base64\r\n\r\n" + img[:10] + "\r\n" + img[10:] + "\r\n" +
		textPart +
		"--inner--\r\n"
	var b strings.Builder
	b.WriteString("--outer\r\nContent-Type: text/xml; charset=utf-8\r\nContent-ID: <start>\r\n\r\n" + soap + "\r\n")
	if nested {
		b.WriteString("--outer\r\nContent-Type: multipart/related; boundary=inner; type=\"application/smil\"\r\nContent-ID: <mo-content>\r\n\r\n" + content + "\r\n")
	} else {
		b.WriteString(strings.ReplaceAll(strings.TrimSuffix(content, "--inner--\r\n"), "--inner", "--outer"))
	}
	b.WriteString("--outer--\r\n")
	return `multipart/related; boundary="outer"; type="text/xml"; start="<start>"`, []byte(b.String())
}

func TestParseDeliver(t *testing.T) {
	t.Parallel()
	utf8Text := "--inner\r\nContent-Type: text/plain; charset=utf-8\r\nContent-ID: <t>\r\n\r\nStop ✋\r\n"
	for _, tc := range []struct {
		name     string
		ns       string
		nested   bool
		textPart string
		want     string
	}{
		{"REL-6 nested, utf-8", rel6, true, utf8Text, "Stop ✋"},
		{"REL-5 flat, utf-8", rel5, false, utf8Text, "Stop ✋"},
		{"latin-1", rel6, true, "--inner\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\nCaf\xe9\r\n", "Café"},
		{"utf-16 with BOM, base64", rel6, true, "--inner\r\nContent-Type: text/plain; charset=utf-16\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
			base64.StdEncoding.EncodeToString([]byte{0xFF, 0xFE, 'O', 0, 'K', 0}) + "\r\n", "OK"},
		{"quoted-printable", rel6, true, "--inner\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nh=C3=A9 there\r\n", "hé there"},
		{"no text: the subject", rel6, true, "", "photo"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctype, body := moBody(tc.ns, tc.nested, tc.textPart)
			req, err := mms.ParseRequest(ctype, body)
			require.NoError(t, err)
			require.Equal(t, "DeliverReq", req.Operation)
			require.Equal(t, "mo-7", req.TransactionID)
			require.Equal(t, tc.ns, req.Namespace)
			in, err := mms.InboundOf("sim", req.Deliver, fixedNow)
			require.NoError(t, err)
			require.Equal(t, unify.Inbound{
				ExternalID: "1000001", Channel: unify.ChannelMMS, Carrier: "sim",
				From: "+33612345678", To: "36000", Text: tc.want,
				Media: []unify.Media{{MimeType: "image/jpeg; size=16"}},
				At:    time.Date(2026, 11, 25, 14, 3, 51, 0, time.UTC),
			}, in)
			mt, params, err := mime.ParseMediaType(in.Media[0].MimeType)
			require.NoError(t, err)
			require.Equal(t, "image/jpeg", mt)
			require.Equal(t, "16", params["size"])
		})
	}
}

func TestInboundAddresses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ sender, recipient, from, to string }{
		{"33612345678", "36000", "+33612345678", "36000"},
		{"+33612345678", "+33700000001", "+33612345678", "+33700000001"},
		{"0612345678", "36000/TYPE=PLMN", "0612345678", "36000"},
		{"user@example.com", "36000", "user@example.com", "36000"},
	} {
		in, err := mms.InboundOf("sim", &mms.Deliver{Sender: tc.sender, Recipient: tc.recipient}, fixedNow)
		require.NoError(t, err)
		require.Equal(t, tc.from, in.From)
		require.Equal(t, tc.to, in.To)
		require.Equal(t, fixedNow, in.At)
	}
	_, err := mms.InboundOf("sim", &mms.Deliver{Recipient: "36000"}, fixedNow)
	require.Error(t, err)
}

// rspEnvelope is the gateway's answer, read with encoding/xml.
type rspEnvelope struct {
	Header struct {
		TransactionID struct {
			XMLName xml.Name
			Value   string `xml:",chardata"`
		} `xml:"TransactionID"`
	} `xml:"Header"`
	Body struct {
		Op struct {
			XMLName    xml.Name
			MM7Version string
			Status     struct {
				StatusCode int
				StatusText string
			}
		} `xml:",any"`
	} `xml:"Body"`
}

type faultEnvelope struct {
	Body struct {
		Fault struct {
			Faultcode string `xml:"faultcode"`
			Detail    struct {
				Err struct {
					XMLName    xml.Name
					MM7Version string
					Status     struct {
						StatusCode int
						Details    string
					}
				} `xml:",any"`
			} `xml:"detail"`
		}
	}
}

func TestHandleCallback(t *testing.T) {
	t.Parallel()
	sink := &fakeSink{}
	ch := newChannel(t, "http://127.0.0.1:1/mm7", sink, nil)
	ctx := context.Background()

	// A delivery report in REL-5 is answered in REL-5, echoing the transaction.
	h := http.Header{"Content-Type": {"text/xml"}}
	status, ctype, resp := ch.HandleCallback(ctx, "sim", h, []byte(reportReq(rel5, "SOAP-ENV", "mm7", "Retrieved", "StatusText")))
	require.Equal(t, http.StatusOK, status, "%s", resp)
	require.Equal(t, "text/xml; charset=utf-8", ctype)
	var env rspEnvelope
	require.NoError(t, xml.Unmarshal(resp, &env))
	require.Equal(t, "dr-42", env.Header.TransactionID.Value)
	require.Equal(t, xml.Name{Space: rel5, Local: "DeliveryReportRsp"}, env.Body.Op.XMLName)
	require.Equal(t, "6.8.0", env.Body.Op.MM7Version)
	require.Equal(t, 1000, env.Body.Op.Status.StatusCode)
	require.Len(t, sink.receipts, 1)
	require.Equal(t, unify.StatusDelivered, sink.receipts[0].Status)
	golden(t, "delivery_report_rsp.xml", resp)

	// A pending report is acknowledged and not recorded.
	status, _, _ = ch.HandleCallback(ctx, "sim", h, []byte(reportReq(rel6, "env", "", "Deferred", "StatusText")))
	require.Equal(t, http.StatusOK, status)
	require.Len(t, sink.receipts, 1)

	// An MO MMS.
	mc, body := moBody(rel6, true, "--inner\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSTOP\r\n")
	status, _, resp = ch.HandleCallback(ctx, "sim", http.Header{"Content-Type": {mc}}, body)
	require.Equal(t, http.StatusOK, status, "%s", resp)
	env = rspEnvelope{}
	require.NoError(t, xml.Unmarshal(resp, &env))
	require.Equal(t, xml.Name{Space: rel6, Local: "DeliverRsp"}, env.Body.Op.XMLName)
	require.Equal(t, "mo-7", env.Header.TransactionID.Value)
	require.Equal(t, "5.3.0", env.Body.Op.MM7Version)
	require.Equal(t, 1000, env.Body.Op.Status.StatusCode)
	require.Len(t, sink.inbound, 1)
	require.Equal(t, "STOP", sink.inbound[0].Text, "consent is the core's business: the text is just delivered")
}

func TestHandleCallbackFaults(t *testing.T) {
	t.Parallel()
	report := []byte(reportReq(rel6, "env", "", "Retrieved", "StatusText"))
	xmlH := http.Header{"Content-Type": {"text/xml"}}
	for _, tc := range []struct {
		name      string
		header    http.Header
		body      []byte
		sinkErr   error
		status    int
		faultcode string
		code      int
	}{
		{"malformed XML", xmlH, []byte("<env:Envelope"), nil, 500, "env:Client", 2007},
		{"not SOAP", xmlH, []byte("<html/>"), nil, 500, "env:Client", 2007},
		{"report without MessageID", xmlH, []byte(strings.Replace(string(report), "369500617770864640AB", "", 1)), nil, 500, "env:Client", 2007},
		{"broken multipart", http.Header{"Content-Type": {`multipart/related; boundary="x"`}}, []byte("--x\r\nnot a header\r\n"), nil, 500, "env:Client", 2007},
		{"unsupported operation", xmlH, []byte(strings.ReplaceAll(string(report), "DeliveryReportReq", "CancelReq")), nil, 500, "env:Server", 4003},
		{"sink down: the MMSC must retry", xmlH, report, errSinkDown, 500, "env:Server", 3000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ch := newChannel(t, "http://127.0.0.1:1/mm7", &fakeSink{err: tc.sinkErr}, nil)
			status, ctype, resp := ch.HandleCallback(context.Background(), "sim", tc.header, tc.body)
			require.Equal(t, tc.status, status)
			require.Equal(t, "text/xml; charset=utf-8", ctype)
			var env faultEnvelope
			require.NoError(t, xml.Unmarshal(resp, &env), "%s", resp)
			require.Equal(t, tc.faultcode, env.Body.Fault.Faultcode)
			require.Equal(t, "VASPErrorRsp", env.Body.Fault.Detail.Err.XMLName.Local)
			require.Equal(t, tc.code, env.Body.Fault.Detail.Err.Status.StatusCode)
		})
	}
}

func TestHandleCallbackCarrierAndAuth(t *testing.T) {
	t.Parallel()
	sink := &fakeSink{}
	ch := newChannel(t, "http://127.0.0.1:1/mm7", sink, func(c *mms.Config) {
		cc := c.Carriers["sim"]
		cc.CallbackUsername, cc.CallbackPassword = "mmsc", "pw"
		c.Carriers["sim"] = cc
	})
	report := []byte(reportReq(rel6, "env", "", "Retrieved", "StatusText"))
	status, _, _ := ch.HandleCallback(context.Background(), "nope", http.Header{}, report)
	require.Equal(t, http.StatusNotFound, status)

	for _, tc := range []struct {
		name, user, pass string
		want             int
	}{
		{"no credentials", "", "", http.StatusUnauthorized},
		{"wrong password", "mmsc", "nope", http.StatusUnauthorized},
		{"right", "mmsc", "pw", http.StatusOK},
	} {
		h := http.Header{"Content-Type": {"text/xml"}}
		if tc.user != "" {
			r := &http.Request{Header: h}
			r.SetBasicAuth(tc.user, tc.pass)
		}
		status, _, _ := ch.HandleCallback(context.Background(), "sim", h, report)
		require.Equal(t, tc.want, status, tc.name)
	}
	require.Len(t, sink.receipts, 1)
}
