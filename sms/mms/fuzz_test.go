package mms_test

import (
	"context"
	"encoding/xml"
	"log/slog"
	"net/http"
	"testing"

	"gateway/sms/mms"
)

// FuzzParseReport feeds arbitrary bodies to the MMSC-facing parsers and to
// HandleCallback: nothing may panic, and every answer is a 200 or a SOAP
// Fault that is well-formed XML.
func FuzzParseReport(f *testing.F) {
	for _, s := range []string{"Retrieved", "Expired", "Deferred", "Rejected"} {
		f.Add("text/xml", []byte(reportReq(rel6, "env", "", s, "StatusText")))
		f.Add("text/xml", []byte(reportReq(rel5, "SOAP-ENV", "mm7", s, "MMStatusText")))
	}
	ctype, body := moBody(rel6, true, "--inner\r\nContent-Type: text/plain; charset=utf-16\r\n\r\n\xff\xfeO\x00\r\n")
	f.Add(ctype, body)
	ctype, body = moBody(rel5, false, "")
	f.Add(ctype, body)
	f.Add("", []byte("<Envelope><Body><DeliveryReportReq/></Body></Envelope>"))
	f.Add(`multipart/related; boundary="b"`, []byte("--b\r\n\r\n--b--"))
	f.Add("text/xml", []byte(`<?xml version="1.0" encoding="ISO-8859-1"?><e:Envelope xmlns:e="x"><e:Body><Fault/></e:Body></e:Envelope>`))

	ch := newChannel(f, "http://127.0.0.1:1/mm7", &fakeSink{}, func(c *mms.Config) { c.Logger = slog.New(slog.DiscardHandler) })
	f.Fuzz(func(t *testing.T, ctype string, body []byte) {
		if req, err := mms.ParseRequest(ctype, body); err == nil {
			if req.Report != nil {
				_, _, _ = mms.ReceiptOf("sim", req.Report, fixedNow)
			}
			if req.Deliver != nil {
				_, _ = mms.InboundOf("sim", req.Deliver, fixedNow)
			}
		}
		status, _, resp := ch.HandleCallback(context.Background(), "sim", http.Header{"Content-Type": {ctype}}, body)
		if status != http.StatusOK && status != http.StatusInternalServerError {
			t.Fatalf("status %d", status)
		}
		var v struct{}
		if err := xml.Unmarshal(resp, &v); err != nil {
			t.Fatalf("answer is not XML: %v\n%s", err, resp)
		}
	})
}
