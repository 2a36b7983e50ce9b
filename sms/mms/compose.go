package mms

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"gateway/unify"
)

const (
	// partOverhead is what the MIME headers of one part cost, counted against
	// the size budget with the bodies so that the MM as the MMSC receives it
	// stays under max_size (limits apply to the decoded MM: mm7.md §10).
	partOverhead = 200
	// maxSubjectRunes follows Sinch's advice to keep subjects short (§4).
	maxSubjectRunes = 80
	// slideDuration is how long a slide without video or audio shows.
	slideDuration = "5000ms"
)

// slide is one page of the presentation: a media file, a text, or both.
type slide struct {
	media *unify.Media
	text  string
}

// part is one body part of the MM's content, the SMIL excepted.
type part struct {
	cid      string
	location string // Content-Location: a file name for handsets that show one
	ctype    string // media type, without parameters
	data     []byte
	text     bool
	source   string // the media URL it was fetched from
	tag      string // SMIL element: img, video, audio, text
}

// composition is a message laid out as an MM, within its size budget.
type composition struct {
	subject string
	smil    string
	parts   []*part
	total   int // SMIL and parts, decoded
}

// rendering is the preview form of c.
func (c *composition) rendering() *unify.MMSRendering {
	r := &unify.MMSRendering{Subject: c.subject, SMIL: c.smil, TotalSize: c.total,
		Parts: []unify.MMSPart{{ContentID: smilCID, ContentType: "application/smil", Size: len(c.smil)}}}
	for _, p := range c.parts {
		mp := unify.MMSPart{ContentID: p.cid, ContentType: p.ctype, Size: len(p.data), SourceURL: p.source}
		if p.text {
			mp.Text = string(p.data)
		}
		r.Parts = append(r.Parts, mp)
	}
	return r
}

// invalid is the error for content an MMS cannot carry.
func invalid(format string, args ...any) error {
	return &unify.SendError{Kind: unify.ErrInvalidContent, Err: fmt.Errorf("mms: "+format, args...)}
}

// compose lays m out as an MM of at most maxSize bytes: it writes the text
// of each slide, fetches the media, scales images down when the whole does
// not fit, and writes the SMIL. Errors are *unify.SendError: invalid content
// when the MM cannot be made (media refused, of a type an MMS cannot carry,
// or too large), temporary when a fetch may work later.
func (c *Channel) compose(ctx context.Context, m *unify.Message, p *unify.Policy, maxSize int) (*composition, error) {
	slides := slidesOf(&m.Content, p)
	comp := &composition{}
	if card := m.Content.Card; card != nil && card.Title != "" {
		comp.subject = truncateRunes(card.Title, maxSubjectRunes)
	}

	media, err := c.fetchAll(ctx, slides)
	if err != nil {
		return nil, err
	}
	counters := map[string]int{}
	byURL := map[string]*part{}
	type ref struct{ media, text *part }
	refs := make([]ref, len(slides))
	for i, s := range slides {
		if s.media != nil {
			mp, ok := byURL[s.media.URL]
			if !ok {
				f := media[s.media.URL]
				ctype := f.ContentType
				if ctype == "" || ctype == "application/octet-stream" {
					ctype = baseType(s.media.MimeType)
				}
				tag := smilTag(ctype)
				if tag == "" {
					return nil, invalid("media %s is %s, not an image, video or audio file", s.media.URL, ctype)
				}
				counters[tag]++
				mp = &part{cid: tag + strconv.Itoa(counters[tag]), ctype: ctype, data: f.Data, source: s.media.URL, tag: tag}
				byURL[s.media.URL] = mp
				comp.parts = append(comp.parts, mp)
			}
			refs[i].media = mp
		}
		if s.text != "" {
			counters["text"]++
			tp := &part{cid: "text" + strconv.Itoa(counters["text"]), ctype: "text/plain", data: []byte(s.text), text: true, tag: "text"}
			refs[i].text = tp
			comp.parts = append(comp.parts, tp)
		}
	}

	var ss []smilSlide
	for _, r := range refs {
		var s smilSlide
		if r.media != nil {
			s.mediaTag, s.mediaCID = r.media.tag, r.media.cid
		}
		if r.text != nil {
			s.textCID = r.text.cid
		}
		ss = append(ss, s)
	}
	comp.smil = buildSMIL(ss)

	if err := c.fit(comp, maxSize); err != nil {
		return nil, err
	}
	comp.total = len(comp.smil)
	for _, p := range comp.parts {
		p.location = p.cid + extension(p.ctype)
		comp.total += len(p.data)
	}
	return comp, nil
}

// fit brings the media of comp under the budget left by the SMIL and the
// texts. Images that can be scaled share what the others leave, water-filling
// style: the smallest keep their size when it is under an equal share, and
// what they leave goes to the larger ones.
func (c *Channel) fit(comp *composition, maxSize int) error {
	avail := maxSize - len(comp.smil) - partOverhead*(len(comp.parts)+1)
	var scalable []*part
	need := 0
	for _, p := range comp.parts {
		if !p.text && (p.ctype == "image/jpeg" || p.ctype == "image/png") {
			scalable = append(scalable, p)
			need += len(p.data)
		} else {
			avail -= len(p.data)
		}
	}
	if avail < 0 {
		return invalid("the text and the media that cannot be scaled need %d bytes, the limit is %d", maxSize-avail, maxSize)
	}
	if need <= avail {
		return nil
	}
	slices.SortStableFunc(scalable, func(a, b *part) int { return len(a.data) - len(b.data) })
	for i, p := range scalable {
		share := avail / (len(scalable) - i)
		if len(p.data) > share {
			data, ctype, err := FitImage(p.data, share)
			if err != nil {
				return &unify.SendError{Kind: unify.ErrInvalidContent, Err: fmt.Errorf("mms: media %s: %w", p.source, err)}
			}
			c.log.Debug("media scaled down", "url", p.source, "from", len(p.data), "to", len(data), "budget", share)
			c.metrics.scaled.Inc()
			p.data, p.ctype = data, ctype
		}
		avail -= len(p.data)
	}
	return nil
}

// fetchAll fetches every distinct media URL of the slides at once (a
// carousel of ten cards must not take ten timeouts).
func (c *Channel) fetchAll(ctx context.Context, slides []slide) (map[string]*Fetched, error) {
	var urls []string
	for _, s := range slides {
		if s.media != nil && !slices.Contains(urls, s.media.URL) {
			urls = append(urls, s.media.URL)
		}
	}
	out := make(map[string]*Fetched, len(urls))
	errs := make([]error, len(urls))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, u := range urls {
		wg.Go(func() {
			f, err := c.fetcher.Fetch(ctx, u)
			if err != nil {
				errs[i] = err
				return
			}
			mu.Lock()
			out[u] = f
			mu.Unlock()
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err == nil {
			continue
		}
		var fe *FetchError
		if errors.As(err, &fe) && fe.Temporary {
			c.metrics.fetches.WithLabelValues("temporary").Inc()
			return nil, &unify.SendError{Kind: unify.ErrTemporary, Err: err}
		}
		c.metrics.fetches.WithLabelValues("refused").Inc()
		return nil, &unify.SendError{Kind: unify.ErrInvalidContent, Err: err}
	}
	c.metrics.fetches.WithLabelValues("ok").Add(float64(len(urls)))
	return out, nil
}

// slidesOf lays the content out as slides. Suggestions are written as in an
// SMS: numbered ("Reply 1 for Track, 2 Website https://…") when the policy
// numbers replies, in the order of unify.Content.AllSuggestions, so that an
// MMS or SMS answer "2" is matched like any other; otherwise only the actions
// are written, with their URL, number, map link or date.
func slidesOf(c *unify.Content, p *unify.Policy) []slide {
	sw := &suggestionWriter{numbered: p == nil || p.SMS.NumberReplies}
	var out []slide
	switch {
	case c.Media != nil:
		out = append(out, slide{media: c.Media, text: joinLines(c.Text)})
	case c.Card != nil:
		out = append(out, slide{media: c.Card.Media, text: joinLines(c.Card.Title, c.Card.Description, sw.write(c.Card.Suggestions))})
	case c.Carousel != nil:
		for _, card := range c.Carousel.Cards {
			out = append(out, slide{media: card.Media, text: joinLines(card.Title, card.Description, sw.write(card.Suggestions))})
		}
	case c.Location != nil:
		out = append(out, slide{text: joinLines(c.Location.Label, mapLink(c.Location.Lat, c.Location.Lng))})
	default:
		out = append(out, slide{text: c.Text})
	}
	// The message's own suggestions come last, on the last slide.
	if s := sw.write(c.Suggestions); s != "" {
		last := &out[len(out)-1]
		last.text = joinLines(last.text, s)
	}
	return out
}

type suggestionWriter struct {
	numbered bool
	n        int // suggestions numbered so far
}

func (w *suggestionWriter) write(list []unify.Suggestion) string {
	var lines, replies []string
	for _, s := range list {
		if w.numbered {
			w.n++
			replies = append(replies, strconv.Itoa(w.n)+" "+suggestionText(s))
		} else if s.Type != unify.SuggestReply {
			lines = append(lines, suggestionText(s))
		}
	}
	if len(replies) > 0 {
		lines = append(lines, "Reply "+strings.Join(replies, ", "))
	}
	return joinLines(lines...)
}

// suggestionText is how one suggestion reads in a text part.
func suggestionText(s unify.Suggestion) string {
	switch s.Type {
	case unify.SuggestOpenURL:
		return s.Text + " " + s.URL
	case unify.SuggestDial:
		return s.Text + " " + s.Phone
	case unify.SuggestViewLocation:
		if s.Lat != nil && s.Lng != nil {
			return s.Text + " " + mapLink(*s.Lat, *s.Lng)
		}
	case unify.SuggestCalendar:
		return s.Text + " (" + s.Title + ", " + s.Start + ")"
	}
	return "for " + s.Text
}

func mapLink(lat, lng float64) string {
	return "https://maps.google.com/?q=" + strconv.FormatFloat(lat, 'f', -1, 64) + "," + strconv.FormatFloat(lng, 'f', -1, 64)
}

func joinLines(lines ...string) string {
	var b strings.Builder
	for _, l := range lines {
		if l == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(l)
	}
	return b.String()
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

func baseType(t string) string {
	mt, _, err := mime.ParseMediaType(t)
	if err != nil {
		return strings.ToLower(strings.TrimSpace(t))
	}
	return mt
}

// smilTag is the SMIL element that presents a media type, or "" when an MMS
// cannot carry it.
func smilTag(ctype string) string {
	switch {
	case strings.HasPrefix(ctype, "image/"):
		return "img"
	case strings.HasPrefix(ctype, "video/"):
		return "video"
	case strings.HasPrefix(ctype, "audio/"):
		return "audio"
	}
	return ""
}

// extension names a part's file for its Content-Location. A fixed table, not
// mime.ExtensionsByType, whose answer depends on the host's mime.types.
func extension(ctype string) string {
	switch ctype {
	case "image/jpeg":
		return ".jpg"
	case "image/png":
		return ".png"
	case "image/gif":
		return ".gif"
	case "image/webp":
		return ".webp"
	case "image/bmp":
		return ".bmp"
	case "video/mp4":
		return ".mp4"
	case "video/3gpp":
		return ".3gp"
	case "video/3gpp2":
		return ".3g2"
	case "audio/amr":
		return ".amr"
	case "audio/mpeg":
		return ".mp3"
	case "audio/mp4", "audio/aac":
		return ".m4a"
	case "text/plain":
		return ".txt"
	}
	return ""
}
