// Package strictjson reads a JSON request strictly for the dialect adapters
// (unify/messenger, unify/whatsapp): every problem named by its path in the
// dialect's own terms, unknown keys refused, types checked, and unify's
// content rules reported under the dialect's field names. Standard library
// and gateway/unify only.
package strictjson

// This file is the strict JSON Reader of the package. unify/whatsapp has its
// own copy: adapters import only the standard library and unify, and the two
// are small enough that sharing would cost more than it saves.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"gateway/unify"
)

// Parse reads body into a tree of map[string]any, []any, string,
// json.Number, bool and nil, and refuses what is not one JSON object.
func Parse(body []byte) (map[string]any, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, unify.Errorf(unify.CodeInvalid, "the body is empty; it must be a JSON object")
	}
	// encoding/json would quietly turn invalid UTF-8 into U+FFFD; a message
	// must reach the phone as it was written or not at all.
	if !utf8.Valid(body) {
		return nil, unify.Errorf(unify.CodeInvalid, "the body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		var se *json.SyntaxError
		switch {
		case errors.As(err, &se):
			return nil, unify.Errorf(unify.CodeInvalid, "the body is not valid JSON: %s (at byte %d)", se.Error(), se.Offset)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return nil, unify.Errorf(unify.CodeInvalid, "the body is not valid JSON: it ends too early")
		}
		return nil, unify.Errorf(unify.CodeInvalid, "the body is not valid JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, unify.Errorf(unify.CodeInvalid, "the body is not valid JSON: data after the top-level value")
	}
	m, ok := tree.(map[string]any)
	if !ok {
		return nil, unify.Errorf(unify.CodeInvalid, "the body must be a JSON object")
	}
	return m, nil
}

// Reader collects every problem of a request, each named by its path, and
// the aliases that name unified fields in the dialect's terms.
type Reader struct {
	Errs    []unify.FieldError
	aliases []alias
}

// alias says that the unified field (a path below "content") was written
// as the dialect's field.
type alias struct{ unified, dialect string }

func (r *Reader) Add(field, msg string) {
	r.Errs = append(r.Errs, unify.FieldError{Field: field, Message: msg})
}

func (r *Reader) Alias(unified, dialect string) {
	r.aliases = append(r.aliases, alias{unified, dialect})
}

// covers reports whether field is, contains or lies within a field that
// already has a problem: a second message about it would only confuse.
func (r *Reader) Covers(field string) bool {
	for _, e := range r.Errs {
		if Within(field, e.Field) || Within(e.Field, field) {
			return true
		}
	}
	return false
}

// dialectPath names a unified field in the dialect's terms, by the
// longest alias that contains it.
func (r *Reader) DialectPath(field string) string {
	best := -1
	for i, a := range r.aliases {
		if Within(field, a.unified) && (best < 0 || len(a.unified) > len(r.aliases[best].unified)) {
			best = i
		}
	}
	if best < 0 {
		return field
	}
	a := r.aliases[best]
	return a.dialect + field[len(a.unified):]
}

// check runs unify's own content rules (URLs, E.164 numbers, totals) and
// reports what they find under the dialect's names, unless a problem of the
// dialect already covers it.
func (r *Reader) Check(c *unify.Content) {
	for _, fe := range c.Validate("content") {
		fe.Field = r.DialectPath(fe.Field)
		if !r.Covers(fe.Field) {
			r.Errs = append(r.Errs, fe)
		}
	}
}

// object is one JSON object being read. Keys are marked as they are read so
// that done can refuse the rest.
type Object struct {
	r    *Reader
	path string
	m    map[string]any
	used map[string]bool
	bad  map[string]bool // keys whose value has the wrong type
}

func (r *Reader) Object(v any, path string) *Object {
	m, ok := v.(map[string]any)
	if !ok {
		r.Add(path, "must be an object")
		return nil
	}
	return &Object{r: r, path: path, m: m, used: map[string]bool{}, bad: map[string]bool{}}
}

func (o *Object) At(key string) string { return Join(o.path, key) }

func (o *Object) Wrong(key, msg string) {
	o.bad[key] = true
	o.r.Add(o.At(key), msg)
}

// get returns the value of key. null counts as absent: Meta's SDKs send
// null for options left unset.
func (o *Object) Get(key string) (any, bool) {
	o.used[key] = true
	v, ok := o.m[key]
	return v, ok && v != nil
}

// has reports whether key is present (and not null) without reading it.
func (o *Object) Has(key string) bool {
	v, ok := o.m[key]
	return ok && v != nil
}

func (o *Object) Str(key string) (string, bool) {
	v, ok := o.Get(key)
	if !ok {
		return "", false
	}
	s, ok := v.(string)
	if !ok {
		o.Wrong(key, "must be a string")
		return "", false
	}
	return s, true
}

// text reads a string of at most max characters; required makes an absent
// or empty one a problem.
func (o *Object) Text(key string, max int, required bool) string {
	s, _ := o.Str(key)
	switch {
	case s == "":
		if required && !o.bad[key] {
			o.r.Add(o.At(key), "must not be empty")
		}
	case utf8.RuneCountInString(s) > max:
		o.r.Add(o.At(key), fmt.Sprintf("must be at most %d characters", max))
	}
	return s
}

// oneOf reads an optional string that must be one of values.
func (o *Object) OneOf(key string, values ...string) string {
	s, ok := o.Str(key)
	if ok && !slices.Contains(values, s) {
		o.r.Add(o.At(key), "must be one of "+strings.Join(values, ", "))
	}
	return s
}

func (o *Object) Boolean(key string) bool {
	v, ok := o.Get(key)
	if !ok {
		return false
	}
	b, ok := v.(bool)
	if !ok {
		o.Wrong(key, "must be true or false")
	}
	return b
}

// obj reads a nested object; nil when absent (a problem if required) or not
// an object.
func (o *Object) Obj(key string, required bool) *Object {
	v, ok := o.Get(key)
	if !ok {
		if required {
			o.r.Add(o.At(key), "must be set")
		}
		return nil
	}
	n := o.r.Object(v, o.At(key))
	if n == nil {
		o.bad[key] = true
	}
	return n
}

// list reads an array; nil when absent or not an array.
func (o *Object) List(key string) []any {
	v, ok := o.Get(key)
	if !ok {
		return nil
	}
	a, ok := v.([]any)
	if !ok {
		o.Wrong(key, "must be an array")
	}
	return a
}

// skip marks every key read, for an object refused as a whole (an
// unsupported button type) whose other keys need no message of their own.
func (o *Object) Skip() {
	for k := range o.m {
		o.used[k] = true
	}
}

// done refuses every key that was not read: a field the gateway does not
// map would otherwise be dropped without anyone knowing.
func (o *Object) Done() {
	keys := make([]string, 0, len(o.m))
	for k := range o.m {
		if !o.used[k] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		o.r.Add(o.At(k), "is not supported by the gateway")
	}
}

func Join(prefix, field string) string {
	if prefix == "" {
		return field
	}
	return prefix + "." + field
}

// within reports whether path a is b or below it.
func Within(a, b string) bool {
	if !strings.HasPrefix(a, b) {
		return false
	}
	if len(a) == len(b) || b == "" {
		return true
	}
	return a[len(b)] == '.' || a[len(b)] == '['
}

// imageType names the MIME type of an image by its URL's extension. Meta's
// shapes carry no type; the MMS channel goes by what the server answers when
// it fetches the file, and RBM fetches and inspects it itself, so this is
// only a hint, JPEG when the URL does not say.
func ImageType(rawURL string) string {
	p, _, _ := strings.Cut(rawURL, "?")
	p, _, _ = strings.Cut(p, "#")
	ext := strings.ToLower(p[strings.LastIndexByte(p, '.')+1:])
	switch ext {
	case "png":
		return "image/png"
	case "gif":
		return "image/gif"
	case "webp":
		return "image/webp"
	}
	return "image/jpeg"
}

// Path is the JSON path of the object.
func (o *Object) Path() string { return o.path }

// Bad reports whether key's value had the wrong type (already reported).
func (o *Object) Bad(key string) bool { return o.bad[key] }
