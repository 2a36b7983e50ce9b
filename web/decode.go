package web

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"github.com/nyaruka/phonenumbers"
	"google.golang.org/protobuf/proto"

	"gateway/unify"
	"gateway/unify/strictjson"
)

// MaxBodyBytes bounds a send request. The largest valid content (a carousel
// of ten cards with their suggestions at their length limits) fits well
// below it; anything bigger is a mistake or an attack.
const MaxBodyBytes = 256 << 10

// MaxRefRunes bounds the caller's opaque references (conversation_id,
// client_ref) and the names from and policy.
const MaxRefRunes = 128

// sendRequest is the body of POST /v1/messages and /v1/previews. Its JSON
// form, re-marshalled after decoding, is what idempotency hashes: key order,
// white space and absent-versus-empty differences do not make two requests
// different.
type sendRequest struct {
	To             string        `json:"to"`
	From           string        `json:"from"`
	Policy         string        `json:"policy,omitempty"`
	ConversationID string        `json:"conversation_id,omitempty"`
	ClientRef      string        `json:"client_ref,omitempty"`
	Content        unify.Content `json:"content"`
}

func (r *sendRequest) message() *unify.Message {
	return &unify.Message{
		To:             r.To,
		From:           r.From,
		Policy:         r.Policy,
		ConversationID: r.ConversationID,
		ClientRef:      r.ClientRef,
		Content:        r.Content,
	}
}

// BindMessage reads a send body from the request: Content-Type, size, strict
// JSON decoding and every field rule. It returns a *unify.Error (invalid,
// listing all field problems at once) or an error answering 413 or 415. The
// message it returns has no id or status yet.
func BindMessage(c echo.Context) (*unify.Message, error) {
	req, fields, err := readSend(c)
	if err != nil {
		return nil, err
	}
	if len(fields) > 0 {
		return nil, unify.Invalid(fields...)
	}
	return req.message(), nil
}

// readSend decodes and validates a send body. Problems with the body as a
// whole come back as the error; problems with fields as the list, the
// request then being as complete as the body allowed.
func readSend(c echo.Context) (*sendRequest, []unify.FieldError, error) {
	body, err := readJSONBody(c.Request())
	if err != nil {
		return nil, nil, err
	}
	tree, err := strictjson.Parse(body)
	if err != nil {
		return nil, nil, err
	}
	var req sendRequest
	d := decoder{}
	d.assign(tree, reflect.ValueOf(&req).Elem(), "")
	fields := d.errs
	for _, fe := range validateSend(&req) {
		if !d.covers(fe.Field) {
			fields = append(fields, fe)
		}
	}
	return &req, fields, nil
}

// readJSONBody enforces the media type and the size limit and returns the
// body. The size is checked before reading when the client announced it.
func readJSONBody(r *http.Request) ([]byte, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType))
	if err != nil || mt != echo.MIMEApplicationJSON {
		return nil, &httpProblem{status: http.StatusUnsupportedMediaType, detail: "the body must be application/json"}
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return nil, &httpProblem{status: http.StatusUnsupportedMediaType, detail: "the body must be UTF-8 encoded JSON"}
	}
	tooLarge := &httpProblem{status: http.StatusRequestEntityTooLarge,
		detail: fmt.Sprintf("the body must be at most %d bytes", MaxBodyBytes)}
	if r.ContentLength > MaxBodyBytes {
		return nil, tooLarge
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, &unify.Error{Code: unify.CodeInvalid, Message: "the body could not be read", Err: err}
	}
	if len(body) > MaxBodyBytes {
		return nil, tooLarge
	}
	return body, nil
}

// fieldIndex maps each struct type of the request to its JSON names and
// field indexes. It is built once from the types and only read afterwards.
var fieldIndex = indexFields(reflect.TypeFor[sendRequest]())

func indexFields(root reflect.Type) map[reflect.Type]map[string]int {
	idx := map[reflect.Type]map[string]int{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice:
			walk(t.Elem())
		case reflect.Struct:
			if _, done := idx[t]; done {
				return
			}
			names := map[string]int{}
			idx[t] = names
			for i := range t.NumField() {
				f := t.Field(i)
				name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
				if !f.IsExported() || name == "-" {
					continue
				}
				if name == "" {
					name = f.Name
				}
				names[name] = i
				walk(f.Type)
			}
		}
	}
	walk(root)
	return idx
}

var suggestionType = reflect.TypeFor[unify.Suggestion]()

// suggestionFields lists the fields each suggestion type takes. unify's
// Suggestion is one flat struct for all types; without this a "url" on a
// reply would be silently dropped, which is the kind of mistake strict
// decoding is there to catch.
var suggestionFields = map[unify.SuggestionType][]string{
	unify.SuggestReply:        {"type", "text", "postback"},
	unify.SuggestOpenURL:      {"type", "text", "postback", "url"},
	unify.SuggestDial:         {"type", "text", "postback", "phone"},
	unify.SuggestViewLocation: {"type", "text", "postback", "lat", "lng", "label"},
	unify.SuggestCalendar:     {"type", "text", "postback", "title", "description", "start", "end"},
}

// decoder fills Go values from a parsed JSON tree strictly: unknown fields
// and wrong types are errors naming the field by its JSON path, and all of
// them are collected rather than the first only (encoding/json stops at the
// first and does not say where an unknown field was). Unlike encoding/json it
// rejects null.
type decoder struct {
	errs []unify.FieldError
}

func (d *decoder) add(field, msg string) {
	d.errs = append(d.errs, unify.FieldError{Field: field, Message: msg})
}

// covers reports whether field is, contains or lies within a field that
// already has a decoding error: a validation message about it would only
// repeat or confuse that error ("must not be empty" after "must be a string").
func (d *decoder) covers(field string) bool {
	for _, e := range d.errs {
		if within(field, e.Field) || within(e.Field, field) {
			return true
		}
	}
	return false
}

// within reports whether path a is b or below it.
func within(a, b string) bool {
	if !strings.HasPrefix(a, b) {
		return false
	}
	if len(a) == len(b) || b == "" {
		return true
	}
	return a[len(b)] == '.' || a[len(b)] == '['
}

func (d *decoder) assign(v any, rv reflect.Value, path string) {
	if v == nil {
		// null is not "absent": accepting it would make two spellings of
		// one request, and the OpenAPI document would have to say so for
		// every field.
		d.add(path, "must not be null; leave the field out instead")
		return
	}
	switch rv.Kind() {
	case reflect.Pointer:
		if rv.IsNil() {
			rv.Set(reflect.New(rv.Type().Elem()))
		}
		d.assign(v, rv.Elem(), path)
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			d.add(path, "must be an object")
			return
		}
		names := fieldIndex[rv.Type()]
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys) // errors in a stable order
		for _, k := range keys {
			i, ok := names[k]
			if !ok {
				d.add(join(path, k), "is not a field")
				continue
			}
			d.assign(m[k], rv.Field(i), join(path, k))
		}
		if rv.Type() == suggestionType {
			d.suggestionKeys(keys, rv.Interface().(unify.Suggestion).Type, path)
		}
	case reflect.Slice:
		arr, ok := v.([]any)
		if !ok {
			d.add(path, "must be an array")
			return
		}
		s := reflect.MakeSlice(rv.Type(), len(arr), len(arr))
		for i, e := range arr {
			d.assign(e, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		rv.Set(s)
	case reflect.String:
		s, ok := v.(string)
		if !ok {
			d.add(path, "must be a string")
			return
		}
		rv.SetString(s)
	case reflect.Float64, reflect.Float32:
		n, ok := v.(json.Number)
		if !ok {
			d.add(path, "must be a number")
			return
		}
		f, err := n.Float64()
		if err != nil {
			d.add(path, "must be a finite number")
			return
		}
		rv.SetFloat(f)
	case reflect.Int, reflect.Int64, reflect.Int32:
		n, ok := v.(json.Number)
		if !ok {
			d.add(path, "must be an integer")
			return
		}
		i, err := n.Int64()
		if err != nil || rv.OverflowInt(i) {
			d.add(path, "must be an integer")
			return
		}
		rv.SetInt(i)
	case reflect.Bool:
		b, ok := v.(bool)
		if !ok {
			d.add(path, "must be true or false")
			return
		}
		rv.SetBool(b)
	default:
		panic("web: cannot decode into " + rv.Type().String()) // a new field type in unify: teach the decoder
	}
}

func (d *decoder) suggestionKeys(keys []string, typ unify.SuggestionType, path string) {
	allowed, ok := suggestionFields[typ]
	if !ok {
		return // unify's validation names the bad type
	}
	for _, k := range keys {
		if _, known := fieldIndex[suggestionType][k]; known && !slices.Contains(allowed, k) {
			d.add(join(path, k), fmt.Sprintf("is not a field of a %s suggestion", typ))
		}
	}
}

func join(prefix, field string) string {
	if prefix == "" {
		return field
	}
	return prefix + "." + field
}

// validateSend applies the field rules of the send API that are not content
// rules, then unify's content rules.
func validateSend(r *sendRequest) []unify.FieldError {
	var errs []unify.FieldError
	add := func(field, msg string) { errs = append(errs, unify.FieldError{Field: field, Message: msg}) }
	if msg := checkE164(r.To); msg != "" {
		add("to", msg)
	}
	if r.From == "" {
		add("from", "must not be empty")
	}
	for _, f := range []struct{ name, value string }{
		{"from", r.From}, {"policy", r.Policy}, {"conversation_id", r.ConversationID}, {"client_ref", r.ClientRef},
	} {
		if utf8.RuneCountInString(f.value) > MaxRefRunes {
			add(f.name, fmt.Sprintf("must be at most %d characters", MaxRefRunes))
		}
	}
	return append(errs, r.Content.Validate("content")...)
}

// checkE164 returns what is wrong with to as a recipient, or "". The number
// must be written in E.164 ('+', country code, national number, no spaces)
// and exist in its country's numbering plan, so that a typo fails here
// rather than as a carrier rejection minutes later.
func checkE164(to string) string {
	if to == "" {
		return "must not be empty"
	}
	if !unify.LooksE164(to) {
		return "must be an E.164 number such as +33612345678"
	}
	if num, ok := e164Number(to); ok && phonenumbers.IsValidNumber(num) && phonenumbers.Format(num, phonenumbers.E164) == to {
		return ""
	}
	// The general parser says what is wrong.
	return parsedE164Problem(to)
}

func parsedE164Problem(to string) string {
	num, err := phonenumbers.Parse(to, "")
	if err != nil || !phonenumbers.IsValidNumber(num) {
		return "must be a valid phone number in its country's numbering plan"
	}
	if phonenumbers.Format(num, phonenumbers.E164) != to {
		return "must be written in E.164 form, without a national prefix"
	}
	return ""
}

// e164Number reads a string of the form +digits as a country code and a
// national number, without the general parser, which spends most of its
// time on the forms people write numbers in and was a sixth of an accept's
// CPU. The country code is the one prefix of one to three digits the
// numbering plan assigns (none is a prefix of another); leading zeros of the
// national number are kept as the parser keeps them. ok is false when no
// country code matches. The library still judges the number: checkE164
// takes it only if it is valid and written back exactly as given.
func e164Number(to string) (*phonenumbers.PhoneNumber, bool) {
	digits := to[1:]
	for n := 1; n <= 3 && n < len(digits); n++ {
		cc, err := strconv.Atoi(digits[:n])
		if err != nil || len(phonenumbers.GetRegionCodesForCountryCode(cc)) == 0 {
			continue
		}
		national := digits[n:]
		nn, err := strconv.ParseUint(national, 10, 64)
		if err != nil {
			return nil, false
		}
		num := &phonenumbers.PhoneNumber{CountryCode: proto.Int32(int32(cc)), NationalNumber: proto.Uint64(nn)}
		if len(national) > 1 && national[0] == '0' {
			num.ItalianLeadingZero = proto.Bool(true)
			zeros := 1
			for zeros < len(national)-1 && national[zeros] == '0' {
				zeros++
			}
			if zeros > 1 {
				num.NumberOfLeadingZeros = proto.Int32(int32(zeros))
			}
		}
		return num, true
	}
	return nil, false
}

// MaxIdempotencyKeyLen bounds the Idempotency-Key header.
const MaxIdempotencyKeyLen = 255

// HeaderIdempotencyKey is the header that makes a send safe to retry.
const HeaderIdempotencyKey = "Idempotency-Key"

// idempotencyKey reads the Idempotency-Key header. Its problems are reported
// as a field named after the header.
func idempotencyKey(r *http.Request) (string, []unify.FieldError) {
	values := r.Header.Values(HeaderIdempotencyKey)
	if len(values) == 0 {
		return "", nil
	}
	bad := func(msg string) (string, []unify.FieldError) {
		return "", []unify.FieldError{{Field: HeaderIdempotencyKey, Message: msg}}
	}
	if len(values) > 1 {
		return bad("must be sent once")
	}
	key := values[0]
	if key == "" || len(key) > MaxIdempotencyKeyLen {
		return bad(fmt.Sprintf("must be 1 to %d characters", MaxIdempotencyKeyLen))
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x20 || key[i] > 0x7e {
			return bad("must be printable ASCII")
		}
	}
	return key, nil
}
