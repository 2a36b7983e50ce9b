package sms

import (
	"strings"
	"unicode/utf8"

	"gateway/sms/segment"
)

// Transliterate replaces the characters that have a safe GSM 03.38 look-alike
// (typographic quotes and primes, dashes and the minus sign, the ellipsis,
// non-breaking and other typographic spaces, the bullet, guillemets, the
// backtick, Unicode line separators) and removes invisible ones (zero-width
// space, soft hyphen, byte order mark), so that a text written in a word
// processor still goes out as GSM-7: one SMS holds 160 GSM-7 characters but
// only 70 UCS-2 ones (spec smpp.md §7.1).
//
// It returns s unchanged when s is GSM-7 already or when other characters
// outside GSM 03.38 remain (emoji, accented letters such as á, Chinese…):
// UCS-2 is needed anyway then, and it carries the originals faithfully.
// Accented letters are never stripped, since that would change words.
func Transliterate(s string) string {
	first := -1
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c == '\t' || c == '`' {
				first = i
				break
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if _, ok := lookAlike(r); ok {
			first = i
			break
		}
		i += n
	}
	if first < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:first])
	for _, r := range s[first:] {
		if rep, ok := lookAlike(r); ok {
			b.WriteString(rep)
		} else {
			b.WriteRune(r)
		}
	}
	t := b.String()
	if segment.Choose(t) != segment.GSM7 {
		return s
	}
	return t
}

// lookAlike returns the GSM 03.38 text that stands for r, and whether r has
// one. Only replacements a reader would not notice are listed: the meaning of
// the text must not change.
func lookAlike(r rune) (string, bool) {
	switch r {
	case '\t', // not in GSM 03.38; a space reads the same in an SMS
		'\u00A0', // no-break space
		'\u2000', '\u2001', '\u2002', '\u2003', '\u2004', '\u2005', '\u2006',
		'\u2007', '\u2008', '\u2009', '\u200A', // en quad … hair space
		'\u202F', // narrow no-break space (French typography before ; : ! ?)
		'\u205F', // medium mathematical space
		'\u3000': // ideographic space
		return " ", true
	case '\u200B', // zero-width space
		'\u00AD', // soft hyphen: only visible where a line breaks
		'\u2060', // word joiner
		'\uFEFF': // byte order mark / zero-width no-break space
		return "", true
	case '\u2028', '\u2029', '\u0085': // line and paragraph separators, NEL
		return "\n", true
	case '\u2018', '\u2019', '\u201A', '\u201B', // ‘ ’ ‚ ‛
		'\u2032',           // prime
		'\u2039', '\u203A', // ‹ ›
		'`', '\u00B4': // backtick, acute accent used as an apostrophe
		return "'", true
	case '\u201C', '\u201D', '\u201E', '\u201F', // “ ” „ ‟
		'\u2033',           // double prime
		'\u00AB', '\u00BB': // « »
		return `"`, true
	case '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2015', // hyphen … horizontal bar
		'\u2212',           // minus sign
		'\u2022', '\u2043': // bullet, hyphen bullet
		return "-", true
	case '\u2026': // …
		return "...", true
	}
	return "", false
}
