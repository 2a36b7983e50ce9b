package sim

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// HandsetView is what one simulated handset received on every channel, as
// the handset page shows it.
type HandsetView struct {
	Number     string       `json:"number"`
	RCSCapable bool         `json:"rcs_capable"`
	SMS        []HandsetSMS `json:"sms"`
	RCS        []RBMMessage `json:"rcs"`
	MMS        []HandsetMMS `json:"mms"`
	// ReplyChannel is how a typed reply leaves: "rcs" (to agent ReplyTo) when
	// the number is RCS-capable and got agent messages, else "sms" (an MO to
	// ReplyTo, the address the latest SMS or MMS came from), "" when there is
	// nobody to answer.
	ReplyChannel string `json:"reply_channel"`
	ReplyTo      string `json:"reply_to"`
}

// HandsetSMS is one (reassembled) SMS received by a handset.
type HandsetSMS struct {
	From     string    `json:"from"`
	Text     string    `json:"text"`
	Complete bool      `json:"complete"`
	At       time.Time `json:"at"`
}

// HandsetMMS is one MMS received by a handset.
type HandsetMMS struct {
	MessageID string         `json:"message_id"`
	From      string         `json:"from"`
	Subject   string         `json:"subject,omitempty"`
	Text      string         `json:"text"`
	Images    []HandsetImage `json:"images"`
	Status    string         `json:"status"`
	At        time.Time      `json:"at"`
}

// HandsetImage is an image part of an MMS; URL is relative to the Sim's
// HTTP root (no leading slash), so that the page works under a prefix.
type HandsetImage struct {
	ContentType string `json:"content_type"`
	URL         string `json:"url"`
}

// digitsOf keeps the digits of a number, so that "+33612345678" and the
// "33612345678" of an SMPP destination or MM7 Number match.
func digitsOf(n string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, n)
}

// sameNumber compares two numbers written as digits with an optional '+'.
func sameNumber(a, b string) bool {
	da, db := strings.TrimPrefix(a, "+"), strings.TrimPrefix(b, "+")
	return da != "" && da == db && digitsOf(da) == da
}

// Handset returns what number received: SMS reassembled from Messages, RCS
// agent messages (revoked ones excluded) and MMS, each oldest first.
func (s *Sim) Handset(number string) HandsetView {
	v := HandsetView{Number: number, RCSCapable: s.RCSCapable(number), SMS: []HandsetSMS{}, RCS: []RBMMessage{}, MMS: []HandsetMMS{}}
	var (
		lastAt   time.Time
		lastFrom string
	)
	seen := func(at time.Time, from string) {
		if !at.Before(lastAt) {
			lastAt, lastFrom = at, from
		}
	}
	for _, m := range s.Messages() {
		if !sameNumber(m.Dest, number) {
			continue
		}
		sms := HandsetSMS{From: m.Source, Text: m.Text, Complete: m.Complete, At: m.Parts[0].At}
		v.SMS = append(v.SMS, sms)
		seen(sms.At, sms.From)
	}
	for _, m := range s.RBMMessages() {
		if m.Phone == number && m.Status != RBMStatusRevoked {
			v.RCS = append(v.RCS, m)
		}
	}
	for _, m := range s.MMSMessages() {
		if !slices.ContainsFunc(m.Recipients, func(a MM7Address) bool { return sameNumber(a.Value, number) }) {
			continue
		}
		hm := HandsetMMS{MessageID: m.MessageID, Subject: m.Subject, Status: m.Status, At: m.At, Images: []HandsetImage{}}
		if m.Sender != nil {
			hm.From = m.Sender.Value
		}
		var texts []string
		for i, p := range m.Parts {
			switch {
			case strings.HasPrefix(p.ContentType, "text/plain"):
				texts = append(texts, string(p.Data))
			case strings.HasPrefix(p.ContentType, "image/"):
				hm.Images = append(hm.Images, HandsetImage{
					ContentType: p.ContentType,
					URL:         "control/mm7/messages/" + m.MessageID + "/parts/" + strconv.Itoa(i),
				})
			}
		}
		hm.Text = strings.Join(texts, "\n")
		v.MMS = append(v.MMS, hm)
		if hm.From != "" {
			seen(hm.At, hm.From)
		}
	}
	switch {
	case v.RCSCapable && len(v.RCS) > 0:
		v.ReplyChannel, v.ReplyTo = "rcs", v.RCS[len(v.RCS)-1].AgentID
	case lastFrom != "":
		v.ReplyChannel, v.ReplyTo = "sms", lastFrom
	}
	return v
}

// HandsetReply sends text typed on number's handset the way HandsetView
// says (RBMReply or InjectMO) and returns the channel used.
func (s *Sim) HandsetReply(number, text string) (string, error) {
	if text == "" {
		return "", errors.New("sim: handset: empty reply")
	}
	v := s.Handset(number)
	switch v.ReplyChannel {
	case "rcs":
		return "rcs", s.RBMReply(number, v.ReplyTo, text)
	case "sms":
		return "sms", s.InjectMO(MO{From: number, To: v.ReplyTo, Text: text})
	}
	return "", fmt.Errorf("%w: %s received nothing to reply to", errMessageState, number)
}

// HandsetNumbers lists the numbers that received something, E.164 where
// the destination was all digits, sorted.
func (s *Sim) HandsetNumbers() []string {
	set := map[string]string{}
	add := func(n string) {
		d := digitsOf(n)
		if d == "" || len(d) != len(strings.TrimPrefix(n, "+")) {
			return // alphanumeric: not a handset
		}
		if _, ok := set[d]; !ok || strings.HasPrefix(n, "+") {
			set[d] = "+" + d
		}
	}
	for _, m := range s.Messages() {
		add(m.Dest)
	}
	for _, m := range s.RBMMessages() {
		add(m.Phone)
	}
	for _, m := range s.MMSMessages() {
		for _, a := range m.Recipients {
			if a.Kind == "Number" {
				add(a.Value)
			}
		}
	}
	out := make([]string, 0, len(set))
	for _, n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func (s *Sim) routesHandset() {
	m := s.mux
	m.HandleFunc("GET /handset", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src * data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'")
		_, _ = w.Write([]byte(handsetHTML))
	})
	m.HandleFunc("GET /control/handset", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string][]string{"numbers": s.HandsetNumbers()})
	})
	m.HandleFunc("GET /control/handset/{number}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Handset(r.PathValue("number")))
	})
	m.HandleFunc("POST /control/handset/{number}/reply", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Text string `json:"text"`
		}
		if !decode(w, r, &in) {
			return
		}
		ch, err := s.HandsetReply(r.PathValue("number"), in.Text)
		if err != nil {
			okOrError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "channel": ch})
	})
}

// handsetHTML is the handset page: plain HTML and a little JS, no external
// resources except the images the messages point at. Every URL is relative
// to the page's directory, so the gateway can serve it under a prefix.
const handsetHTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Simulated handset</title>
<style>
 body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 480px; padding: 8px; background: #f4f4f6; }
 h1 { font-size: 1.2em; }
 label { display: block; font-weight: 600; margin: 6px 0 2px; }
 input, textarea, button { font-size: 1em; }
 input[type=text], textarea { width: 100%; box-sizing: border-box; padding: 6px; }
 .row { display: flex; gap: 6px; }
 .row input { flex: 1; }
 #thread { list-style: none; padding: 0; }
 .msg { background: #fff; border-radius: 12px; padding: 8px 10px; margin: 8px 0; box-shadow: 0 1px 2px #0002; }
 .meta { font-size: .8em; color: #555; }
 .card { border: 1px solid #ddd; border-radius: 10px; padding: 6px; margin: 4px 0; min-width: 180px; }
 .card img, .msg img { max-width: 100%; border-radius: 8px; }
 .carousel { display: flex; gap: 6px; overflow-x: auto; }
 .chips { display: flex; flex-wrap: wrap; gap: 4px; margin-top: 4px; }
 .chips button { border: 1px solid #1a73e8; color: #1a73e8; background: #fff; border-radius: 16px; padding: 4px 10px; }
 .sms { border-left: 4px solid #888; } .rcs { border-left: 4px solid #1a73e8; } .mms { border-left: 4px solid #e8711a; }
 #status { min-height: 1.2em; color: #a00; }
</style>
</head>
<body>
<h1>Simulated handset</h1>
<form id="pick">
 <label for="number">Phone number</label>
 <div class="row"><input id="number" type="text" list="numbers" placeholder="+33612345678" autocomplete="off">
 <button type="submit">Open</button></div>
 <datalist id="numbers"></datalist>
</form>
<p id="info" class="meta"></p>
<ul id="thread"></ul>
<form id="reply">
 <label for="text">Reply</label>
 <div class="row"><input id="text" type="text" autocomplete="off"><button type="submit">Send</button></div>
</form>
<p id="status" role="status" aria-live="polite"></p>
<script>
"use strict";
const base = location.pathname.replace(/\/handset\/?$/, "").replace(/\/$/, "") + "/";
const $ = (id) => document.getElementById(id);
let number = new URLSearchParams(location.search).get("number") || "";

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}
async function call(method, path, body) {
  const r = await fetch(base + path, {method, headers: {"Content-Type": "application/json"},
    body: body === undefined ? undefined : JSON.stringify(body)});
  const j = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(j.error || r.statusText);
  return j;
}
function act(path, body) {
  call("POST", path, body).then(() => { $("status").textContent = ""; refresh(); })
    .catch((e) => { $("status").textContent = e.message; });
}
function chips(list, msgID) {
  const d = el("div", "chips");
  for (const s of list || []) {
    const c = s.reply || s.action;
    if (!c) continue;
    const b = el("button", "", c.text);
    b.type = "button";
    b.title = s.action && s.action.openUrlAction ? s.action.openUrlAction.url : c.postbackData;
    b.onclick = () => act("control/rbm/tap", {message_id: msgID, postback: c.postbackData});
    d.append(b);
  }
  return d;
}
function media(m) {
  const ci = m && m.contentInfo;
  if (ci && /^https?:/.test(ci.fileUrl)) { const i = el("img"); i.src = ci.fileUrl; i.alt = "media"; return i; }
  if (m) return el("div", "meta", "[file " + (m.fileName || (m.uploadedRbmFile || {}).fileName || "") + "]");
  return null;
}
function card(c, msgID) {
  const d = el("div", "card");
  const md = media(c.media);
  if (md) d.append(md);
  if (c.title) d.append(el("strong", "", c.title));
  if (c.description) d.append(el("div", "", c.description));
  d.append(chips(c.suggestions, msgID));
  return d;
}
function rcs(m) {
  const li = el("li", "msg rcs");
  const cm = (m.body || {}).contentMessage || {};
  li.append(el("div", "meta", "RCS from " + m.agent_id + " · " + m.status));
  if (cm.text !== undefined) li.append(el("div", "", cm.text));
  if (cm.contentInfo || cm.fileName || cm.uploadedRbmFile) li.append(media(cm));
  const rc = cm.richCard || {};
  if (rc.standaloneCard) li.append(card(rc.standaloneCard.cardContent || {}, m.message_id));
  if (rc.carouselCard) {
    const row = el("div", "carousel");
    for (const c of rc.carouselCard.cardContents || []) row.append(card(c, m.message_id));
    li.append(row);
  }
  li.append(chips(cm.suggestions, m.message_id));
  const ops = el("div", "chips");
  if (m.status === "sent") {
    const b = el("button", "", "Mark delivered"); b.type = "button";
    b.onclick = () => act("control/rbm/deliver", {message_id: m.message_id}); ops.append(b);
  }
  if (m.status === "sent" || m.status === "delivered") {
    const b = el("button", "", "Mark read"); b.type = "button";
    b.onclick = () => act("control/rbm/read", {message_id: m.message_id}); ops.append(b);
  }
  li.append(ops);
  return li;
}
function sms(m) {
  const li = el("li", "msg sms");
  li.append(el("div", "meta", "SMS from " + m.from + (m.complete ? "" : " (incomplete)")));
  li.append(el("div", "", m.text));
  return li;
}
function mms(m) {
  const li = el("li", "msg mms");
  li.append(el("div", "meta", "MMS from " + m.from + (m.status ? " · " + m.status : "")));
  if (m.subject) li.append(el("strong", "", m.subject));
  for (const i of m.images) { const img = el("img"); img.src = base + i.url; img.alt = "MMS image"; li.append(img); }
  if (m.text) li.append(el("div", "", m.text));
  return li;
}
async function refresh() {
  const nums = await call("GET", "control/handset");
  const dl = $("numbers"); dl.replaceChildren();
  for (const n of nums.numbers) { const o = el("option"); o.value = n; dl.append(o); }
  if (!number) return;
  const v = await call("GET", "control/handset/" + encodeURIComponent(number));
  const items = [];
  for (const m of v.sms) items.push([m.at, sms(m)]);
  for (const m of v.rcs) items.push([m.at, rcs(m)]);
  for (const m of v.mms) items.push([m.at, mms(m)]);
  items.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  $("thread").replaceChildren(...items.map((x) => x[1]));
  $("info").textContent = number + (v.rcs_capable ? " · RCS" : " · SMS only") +
    (v.reply_channel ? " · replies go by " + v.reply_channel.toUpperCase() + " to " + v.reply_to : " · nothing to reply to");
}
$("pick").onsubmit = (e) => { e.preventDefault(); number = $("number").value.trim(); refresh().catch((x) => { $("status").textContent = x.message; }); };
$("reply").onsubmit = (e) => {
  e.preventDefault();
  const t = $("text").value;
  if (!number || !t) return;
  call("POST", "control/handset/" + encodeURIComponent(number) + "/reply", {text: t})
    .then(() => { $("text").value = ""; $("status").textContent = ""; refresh(); })
    .catch((x) => { $("status").textContent = x.message; });
};
$("number").value = number;
refresh().catch((x) => { $("status").textContent = x.message; });
setInterval(() => refresh().catch(() => {}), 2000);
</script>
</body>
</html>
`
