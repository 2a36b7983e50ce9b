package sms

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"gateway/sms/segment"
	"gateway/unify"
)

// ErrTooLong is returned by RenderText when even the shortest form of the
// content needs more segments than the budget allows.
var ErrTooLong = errors.New("text does not fit the segment budget")

// Segment budgets: what MaxSegments 0 means, and the most an 8-bit
// concatenation reference can number (spec smpp.md §7.1).
const (
	DefaultMaxSegments = 10
	maxParts           = 255
)

// titleFloor is the number of characters a shortened title keeps at least:
// below that a card no longer says what it is about, and dropping its media
// link is the better loss.
const titleFloor = 20

// RenderOptions shape the SMS text; they come from the policy's SMS options.
type RenderOptions struct {
	// NumberReplies numbers every suggestion, replies and actions alike, in
	// the order of unify.Content.AllSuggestions ("Reply 1 for Track, 2 for
	// Website"), so that the answer "2" picks the second one. Without it,
	// suggested replies are left out and actions are written as text.
	NumberReplies bool
	// MaxSegments is the budget in SMS segments; 0 means DefaultMaxSegments.
	// Values above 255 count as 255.
	MaxSegments int
	// WebLink, when set, is a short link to a page showing the full content;
	// it is written near the top ("More: https://…") and never dropped.
	WebLink string
}

// RenderText writes content as SMS text within the segment budget.
//
// Text and media captions are written as they are; media as their URL; a card
// as its title, description and media URL; a carousel as each card in turn,
// headed "1/3", "2/3"…; a location as its label and a map link. Actions are
// written as text (the URL, the number to call, a map link, the date) and,
// with NumberReplies, every suggestion gets its number in a "Reply 1 for …"
// line. The text is transliterated when that keeps it GSM-7 (see
// Transliterate).
//
// When the text needs more segments than the budget, card descriptions are
// shortened first (at a word boundary, ending with "…"), then titles and
// location labels (down to about 20 characters), then media links are
// dropped (where a title, caption or web link remains to say what they
// showed) and the descriptions and titles get back what room that freed.
// URLs, phone numbers, suggestions, texts and captions are never cut, nor is
// a character, an emoji sequence or a GSM escape split. ErrTooLong is
// returned when the shortest form is still too long.
func RenderText(c *unify.Content, o RenderOptions) (string, error) {
	budget := o.MaxSegments
	switch {
	case budget <= 0:
		budget = DefaultMaxSegments
	case budget > maxParts:
		budget = maxParts
	}
	r := renderer{c: c, o: o, budget: budget}
	if text, ok := r.try(layout{desc: noCap, title: noCap}); ok {
		return text, nil
	}
	maxDesc, maxTitle := r.longest()
	for _, drop := range []bool{false, true} {
		if drop && !r.droppableMedia() {
			break
		}
		if text, ok := r.search(0, maxDesc, func(k int) layout {
			return layout{desc: k, title: noCap, dropMedia: drop}
		}); ok {
			return text, nil
		}
		if maxTitle > titleFloor {
			if text, ok := r.search(titleFloor, maxTitle, func(k int) layout {
				return layout{desc: 0, title: k, dropMedia: drop}
			}); ok {
				return text, nil
			}
		}
	}
	return "", fmt.Errorf("sms: render: %w: the shortest form needs %d segments, the budget is %d",
		ErrTooLong, r.segments, budget)
}

// noCap leaves a title or description whole.
const noCap = -1

// layout is one way of writing the content: the most characters each
// description and title may keep, and whether media links are left out.
type layout struct {
	desc, title int
	dropMedia   bool
}

type renderer struct {
	c      *unify.Content
	o      RenderOptions
	budget int

	buf      []byte
	blank    bool // the next line is preceded by an empty line
	linked   bool // the web link is written
	num      int  // number of the last suggestion written
	segments int  // segments the last try needed
}

// try writes the content in layout l and reports whether it fits the budget.
func (r *renderer) try(l layout) (string, bool) {
	r.write(l)
	text := Transliterate(string(r.buf))
	_, n, _ := segment.Count(text)
	r.segments = n
	return text, n <= r.budget
}

// search finds the largest k in [lo, hi] for which mk(k) fits, assuming that
// a larger k never gives a shorter text; false when mk(lo) does not fit.
func (r *renderer) search(lo, hi int, mk func(int) layout) (string, bool) {
	best, ok := r.try(mk(lo))
	if !ok {
		return "", false
	}
	if lo >= hi {
		return best, true
	}
	if text, ok := r.try(mk(hi)); ok {
		return text, true
	}
	// Invariant: mk(lo) fits, mk(hi) does not.
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if text, ok := r.try(mk(mid)); ok {
			lo, best = mid, text
		} else {
			hi = mid
		}
	}
	return best, true
}

// longest returns the length in runes of the longest description and of the
// longest title (location labels count as titles).
func (r *renderer) longest() (desc, title int) {
	card := func(c *unify.Card) {
		desc = max(desc, utf8.RuneCountInString(c.Description))
		title = max(title, utf8.RuneCountInString(c.Title))
	}
	c := r.c
	switch {
	case c.Card != nil:
		card(c.Card)
	case c.Carousel != nil:
		for i := range c.Carousel.Cards {
			card(&c.Carousel.Cards[i])
		}
	case c.Location != nil:
		title = utf8.RuneCountInString(c.Location.Label)
	}
	return desc, title
}

// droppableMedia reports whether some media link may be dropped.
func (r *renderer) droppableMedia() bool {
	c := r.c
	switch {
	case c.Media != nil:
		return r.mayDrop(c.Text)
	case c.Card != nil:
		return c.Card.Media != nil && r.mayDrop(c.Card.Title)
	case c.Carousel != nil:
		for i := range c.Carousel.Cards {
			if card := &c.Carousel.Cards[i]; card.Media != nil && r.mayDrop(card.Title) {
				return true
			}
		}
	}
	return false
}

// mayDrop reports whether a media link may go: only when a caption or title
// still says what it showed, or the web link shows it.
func (r *renderer) mayDrop(words string) bool {
	return words != "" || r.o.WebLink != ""
}

// write renders the content in layout l into r.buf. Suggestions are written
// in the order of unify.Content.AllSuggestions (each card's, then the
// message's), since that is the order replies are numbered in.
func (r *renderer) write(l layout) {
	if r.buf == nil {
		r.buf = make([]byte, 0, r.sizeHint())
	}
	r.buf, r.blank, r.linked, r.num = r.buf[:0], false, false, 0
	c := r.c
	var cards []unify.Suggestion // the card's suggestions, numbered with the message's
	switch {
	case c.Media != nil:
		r.line(c.Text)
		r.webLink()
		if !l.dropMedia || !r.mayDrop(c.Text) {
			r.line(c.Media.URL)
		}
	case c.Card != nil:
		r.card(c.Card, 0, 0, l)
		cards = c.Card.Suggestions
	case c.Carousel != nil:
		r.webLink()
		n := len(c.Carousel.Cards)
		for i := range c.Carousel.Cards {
			card := &c.Carousel.Cards[i]
			r.blank = i > 0
			r.card(card, i+1, n, l)
			r.actions(card.Suggestions)
			r.replies(card.Suggestions, nil)
		}
		r.blank = true
	case c.Location != nil:
		r.cutLine(c.Location.Label, l.title)
		r.webLink()
		r.startLine()
		r.mapLink(c.Location.Lat, c.Location.Lng)
	default:
		r.line(c.Text)
		r.webLink()
	}
	r.webLink()
	r.actions(cards)
	r.actions(c.Suggestions)
	r.replies(cards, c.Suggestions)
}

// card writes a card's title (headed "i/n" in a carousel), the web link,
// its description and its media link.
func (r *renderer) card(c *unify.Card, i, n int, l layout) {
	if n > 0 {
		r.startLine()
		r.buf = strconv.AppendInt(r.buf, int64(i), 10)
		r.buf = append(r.buf, '/')
		r.buf = strconv.AppendInt(r.buf, int64(n), 10)
		if kept, tail := cut(c.Title, l.title); kept != "" {
			r.buf = append(r.buf, ' ')
			r.buf = append(append(r.buf, kept...), tail...)
		}
	} else {
		r.cutLine(c.Title, l.title)
	}
	r.webLink()
	r.cutLine(c.Description, l.desc)
	if c.Media != nil && (!l.dropMedia || !r.mayDrop(c.Title)) {
		r.line(c.Media.URL)
	}
}

// actions writes what each action does, one per line; suggested replies
// have nothing to show but their label, which the reply line carries.
func (r *renderer) actions(list []unify.Suggestion) {
	for i := range list {
		s := &list[i]
		switch s.Type {
		case unify.SuggestOpenURL:
			r.label(s.Text)
			r.buf = append(r.buf, s.URL...)
		case unify.SuggestDial:
			r.label(s.Text)
			r.buf = append(r.buf, s.Phone...)
		case unify.SuggestViewLocation:
			r.label(s.Text)
			if s.Lat != nil && s.Lng != nil {
				r.mapLink(*s.Lat, *s.Lng)
				if s.Label != "" {
					// A space keeps the parenthesis out of the link when
					// the phone makes the URL tappable.
					r.buf = append(r.buf, " ("...)
					r.buf = append(append(r.buf, s.Label...), ')')
				}
			} else {
				r.buf = append(r.buf, s.Label...)
			}
		case unify.SuggestCalendar:
			r.label(s.Text)
			if s.Title != "" {
				r.buf = append(append(r.buf, s.Title...), ", "...)
			}
			r.when(s.Start, s.End)
		}
	}
}

// label starts an action line: "Website: ".
func (r *renderer) label(text string) {
	r.startLine()
	r.buf = append(append(r.buf, text...), ": "...)
}

// replies writes "Reply 1 for Track, 2 for Website" over both lists, numbered
// on from the suggestions written before.
func (r *renderer) replies(a, b []unify.Suggestion) {
	if !r.o.NumberReplies || len(a)+len(b) == 0 {
		return
	}
	r.startLine()
	r.buf = append(r.buf, "Reply "...)
	first := r.num + 1
	for _, list := range [2][]unify.Suggestion{a, b} {
		for i := range list {
			if r.num >= first {
				r.buf = append(r.buf, ", "...)
			}
			r.num++
			r.buf = strconv.AppendInt(r.buf, int64(r.num), 10)
			r.buf = append(append(r.buf, " for "...), list[i].Text...)
		}
	}
}

// webLink writes the link to the full content once, near the top, where
// the eye lands and where no shortening reaches.
func (r *renderer) webLink() {
	if r.o.WebLink == "" || r.linked {
		return
	}
	r.linked = true
	r.startLine()
	r.buf = append(append(r.buf, "More: "...), r.o.WebLink...)
}

// mapLink appends a link that opens the point in a map on any phone.
func (r *renderer) mapLink(lat, lng float64) {
	r.buf = append(r.buf, "https://maps.google.com/?q="...)
	r.buf = strconv.AppendFloat(r.buf, lat, 'f', -1, 64)
	r.buf = append(r.buf, ',')
	r.buf = strconv.AppendFloat(r.buf, lng, 'f', -1, 64)
}

// when appends an event's time the way people read it, in the offset the
// sender gave: "Tue 1 Dec 2026 10:00-11:00 UTC", or both dates when it ends
// on another day. Times that do not parse are written as they came.
func (r *renderer) when(start, end string) {
	s, err := time.Parse(time.RFC3339, start)
	if err != nil {
		r.buf = append(r.buf, start...)
		return
	}
	_, off := s.Zone()
	// A fixed zone: time.Parse may have picked the machine's Local for
	// this offset, whose name must not leak into the text.
	zone := time.FixedZone("", off)
	s = s.In(zone)
	const day, clock = "Mon 2 Jan 2006", "15:04"
	r.buf = s.AppendFormat(r.buf, day+" "+clock)
	if e, err := time.Parse(time.RFC3339, end); err == nil {
		e = e.In(zone)
		if y, m, d := e.Date(); y == s.Year() && m == s.Month() && d == s.Day() {
			r.buf = e.AppendFormat(append(r.buf, '-'), clock)
		} else {
			r.buf = e.AppendFormat(append(r.buf, " - "...), day+" "+clock)
		}
	}
	r.buf = append(r.buf, " UTC"...)
	if off != 0 {
		sign := byte('+')
		if off < 0 {
			sign, off = '-', -off
		}
		r.buf = strconv.AppendInt(append(r.buf, sign), int64(off/3600), 10)
		if m := off % 3600 / 60; m != 0 {
			r.buf = append(r.buf, ':', byte('0'+m/10), byte('0'+m%10))
		}
	}
}

// line writes s on a line of its own; an empty s writes nothing.
func (r *renderer) line(s string) {
	if s == "" {
		return
	}
	r.startLine()
	r.buf = append(r.buf, s...)
}

// cutLine writes s shortened to about maxRunes characters (noCap: whole).
func (r *renderer) cutLine(s string, maxRunes int) {
	kept, tail := cut(s, maxRunes)
	if kept == "" {
		return
	}
	r.startLine()
	r.buf = append(append(r.buf, kept...), tail...)
}

// startLine ends the previous line, if any.
func (r *renderer) startLine() {
	if len(r.buf) > 0 {
		r.buf = append(r.buf, '\n')
		if r.blank {
			r.buf = append(r.buf, '\n')
		}
	}
	r.blank = false
}

// sizeHint guesses the length of the text so that it is written without
// growing the buffer.
func (r *renderer) sizeHint() int {
	c := r.c
	n := len(c.Text) + len(r.o.WebLink) + 64
	if c.Media != nil {
		n += len(c.Media.URL)
	}
	card := func(c *unify.Card) {
		n += len(c.Title) + len(c.Description) + 8 + suggestionsHint(c.Suggestions)
		if c.Media != nil {
			n += len(c.Media.URL)
		}
	}
	switch {
	case c.Card != nil:
		card(c.Card)
	case c.Carousel != nil:
		for i := range c.Carousel.Cards {
			card(&c.Carousel.Cards[i])
		}
	case c.Location != nil:
		n += len(c.Location.Label) + 64
	}
	return n + suggestionsHint(c.Suggestions)
}

func suggestionsHint(list []unify.Suggestion) int {
	n := 0
	for i := range list {
		s := &list[i]
		n += 2*len(s.Text) + len(s.URL) + len(s.Phone) + len(s.Title) + len(s.Label) + 16
		switch s.Type {
		case unify.SuggestViewLocation:
			n += 64
		case unify.SuggestCalendar:
			n += 48
		}
	}
	return n
}

// cut shortens s to about maxRunes characters, "…" included: at the last
// word boundary that keeps at least half of them, else (a long word, or a
// script without spaces) at a character boundary outside any URL and any
// emoji sequence or combining mark. kept is a prefix of s and tail the
// ellipsis; both are empty when nothing worth keeping remains. A negative
// maxRunes keeps s whole.
func cut(s string, maxRunes int) (kept, tail string) {
	if maxRunes < 0 {
		return s, ""
	}
	i := 0
	for n := 0; n < maxRunes && i < len(s); n++ {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	if i >= len(s) {
		return s, ""
	}
	if maxRunes <= 1 {
		return "", ""
	}
	// Keep maxRunes-1 characters and leave room for the ellipsis.
	_, size := utf8.DecodeLastRuneInString(s[:i])
	end := i - size
	if r, _ := utf8.DecodeRuneInString(s[end:]); !unicode.IsSpace(r) {
		if ws := lastSpace(s[:end]); ws >= 0 && 2*ws >= end {
			end = ws
		} else {
			end = clusterStart(s, outsideURL(s, end))
		}
	}
	kept = strings.TrimRightFunc(s[:end], unicode.IsSpace)
	last := kept[lastSpace(kept)+1:]
	if looksLikeURL(last) {
		// A space keeps the ellipsis out of the link.
		return kept, " …"
	}
	// Punctuation that would dangle before the ellipsis goes; "50%", "(a)"
	// or a closing quote keep their meaning and stay.
	kept = strings.TrimRightFunc(kept, func(r rune) bool {
		return unicode.IsSpace(r) || strings.ContainsRune(".,;:!?¡¿-–—…(/[{&·•*", r)
	})
	if kept == "" {
		return "", ""
	}
	return kept, "…"
}

// lastSpace returns the index of the last white space in s, or -1.
func lastSpace(s string) int {
	return strings.LastIndexFunc(s, unicode.IsSpace)
}

// outsideURL moves a cut at byte end back to the start of its word when that
// word is a URL: half a link is worse than none.
func outsideURL(s string, end int) int {
	start := lastSpace(s[:end]) + 1
	stop := strings.IndexFunc(s[end:], unicode.IsSpace)
	if stop < 0 {
		stop = len(s)
	} else {
		stop += end
	}
	if looksLikeURL(s[start:stop]) {
		return start
	}
	return end
}

func looksLikeURL(word string) bool {
	return strings.Contains(word, "://") || len(word) > 4 && strings.EqualFold(word[:4], "www.")
}

// clusterStart moves a cut at byte end back until it no longer splits what a
// reader sees as one character: a letter and its combining marks, an emoji
// and its modifiers, variation selectors or zero-width-joined parts, a flag
// (two regional indicators).
func clusterStart(s string, end int) int {
	for end > 0 {
		next, _ := utf8.DecodeRuneInString(s[end:])
		prev, size := utf8.DecodeLastRuneInString(s[:end])
		if end < len(s) && extends(next) || prev == '\u200D' ||
			isRegional(next) && isRegional(prev) && regionalRun(s[:end])%2 == 1 {
			end -= size
			continue
		}
		return end
	}
	return 0
}

// extends reports whether r joins the character before it.
func extends(r rune) bool {
	switch {
	case r == '\u200D', // zero-width joiner
		r >= '\uFE00' && r <= '\uFE0F', // variation selectors
		r >= 0x1F3FB && r <= 0x1F3FF,   // skin tones
		r >= 0xE0020 && r <= 0xE007F:   // tag characters (subdivision flags)
		return true
	}
	return r >= 0x300 && (unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Me, r) || unicode.Is(unicode.Mc, r))
}

func isRegional(r rune) bool { return r >= 0x1F1E6 && r <= 0x1F1FF }

// regionalRun counts the regional indicators that end s.
func regionalRun(s string) int {
	n := 0
	for len(s) > 0 {
		r, size := utf8.DecodeLastRuneInString(s)
		if !isRegional(r) {
			break
		}
		n++
		s = s[:len(s)-size]
	}
	return n
}
