package config

import (
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	"gateway/unify"
)

// Validate checks f and returns every problem found as a *Problems, or nil.
// Problems carry the line of the value when f came from Parse or Load.
func (f *File) Validate() error {
	ps := f.validate()
	if len(ps) == 0 {
		return nil
	}
	sortProblems(ps)
	return &ps
}

type checker struct {
	lines map[string]int
	ps    Problems
}

func (c *checker) add(path, msg string) {
	if msg == "" {
		return
	}
	c.ps = append(c.ps, Problem{Path: path, Message: msg, Line: lineOf(c.lines, path)})
}

func (c *checker) addf(path, format string, args ...any) { c.add(path, fmt.Sprintf(format, args...)) }

func (c *checker) between(path string, v, lo, hi int) {
	if v < lo || v > hi {
		c.addf(path, "must be between %d and %d", lo, hi)
	}
}

func (f *File) validate() Problems {
	c := &checker{lines: f.lines}
	c.add("listen", checkHostPort(f.Listen, false, 0))
	c.add("database", checkDatabase(f.Database))
	if f.PublicURL != "" {
		c.add("public_url", checkHTTPURL(f.PublicURL))
	}
	if f.TLS != nil {
		c.add("tls.cert_file", checkFile(f.TLS.CertFile))
		c.add("tls.key_file", checkFile(f.TLS.KeyFile))
	}
	f.checkAPIKeys(c)
	f.checkWebhook(c)
	if f.UI.AdminPassword != "" && utf8.RuneCountInString(f.UI.AdminPassword) < 8 {
		c.add("ui.admin_password", "must be at least 8 characters")
	}
	policies := f.checkPolicies(c)
	f.checkSenders(c, policies)
	f.checkKeySenders(c)
	f.checkCarriers(c)
	f.checkPrivacy(c)
	switch f.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		c.add("log.level", "must be debug, info, warn or error")
	}
	switch f.Log.Format {
	case "text", "json":
	default:
		c.add("log.format", "must be text or json")
	}
	if f.Sim != nil {
		c.add("sim.smpp", checkHostPort(f.Sim.SMPP, false, 0))
		c.add("sim.http", checkHostPort(f.Sim.HTTP, false, 0))
		for i, n := range f.Sim.RCSNumbers {
			if !unify.LooksE164(strings.TrimSuffix(n, "*")) && !(strings.HasSuffix(n, "*") && strings.HasPrefix(n, "+") && len(n) > 2) {
				c.addf(fmt.Sprintf("sim.rcs_numbers[%d]", i), "must be an E.164 number or a prefix ending in * (+3361*)")
			}
		}
		if f.Sim.AutoDeliver < 0 {
			c.add("sim.auto_deliver", "must not be negative")
		}
	}
	if f.Media.MaxSize < 0 {
		c.add("media.max_size", "must not be negative")
	}
	if f.Media.Timeout < 0 {
		c.add("media.timeout", "must not be negative")
	}
	return c.ps
}

func (f *File) checkAPIKeys(c *checker) {
	if len(f.APIKeys) == 0 {
		c.add("api_keys", "must hold at least one key: the REST API needs one")
	}
	names, keys := map[string]string{}, map[string]string{}
	for i, k := range f.APIKeys {
		p := fmt.Sprintf("api_keys[%d]", i)
		switch {
		case k.Name == "":
			c.add(p+".name", "must not be empty")
		case names[k.Name] != "":
			c.addf(p+".name", "%q is also the name of %s", k.Name, names[k.Name])
		default:
			names[k.Name] = p
		}
		// The key is a secret: problems name the other entry, never the value.
		switch {
		case k.Key == "":
			c.add(p+".key", "must not be empty")
		case utf8.RuneCountInString(k.Key) < 16:
			c.add(p+".key", "must be at least 16 characters")
		case keys[k.Key] != "":
			c.add(p+".key", "is the same key as "+keys[k.Key])
		default:
			keys[k.Key] = p
		}
		switch k.Dialect {
		case "", DialectUnified, DialectMessenger, DialectWhatsApp:
		default:
			c.add(p+".dialect", "must be unified, messenger or whatsapp")
		}
	}
}

// maxWebhookPipeline bounds webhook.pipeline: the dispatcher's POSTs in
// flight (16) share connections of that many.
const maxWebhookPipeline = 16

func (f *File) checkWebhook(c *checker) {
	w := f.Webhook
	if w.Timeout <= 0 {
		c.add("webhook.timeout", "must be more than 0s")
	}
	if w.Pipeline < 1 || w.Pipeline > maxWebhookPipeline {
		c.add("webhook.pipeline", fmt.Sprintf("must be 1 to %d (1: no pipelining)", maxWebhookPipeline))
	}
	if w.VerifyToken != "" {
		switch {
		case w.URL == "":
			c.add("webhook.verify_token", "needs webhook.url: it is sent there in the subscription handshake")
		case strings.IndexFunc(w.VerifyToken, unicode.IsControl) >= 0:
			c.add("webhook.verify_token", "must not contain control characters")
		case len(w.VerifyToken) > 256:
			c.add("webhook.verify_token", "must be at most 256 bytes")
		}
	}
	if w.URL == "" {
		return
	}
	if msg := checkHTTPURL(w.URL); msg != "" {
		c.add("webhook.url", msg)
	} else if u, _ := url.Parse(w.URL); u.Scheme == "http" && !w.AllowHTTP && !isLoopback(u.Hostname()) {
		// Events carry message content and phone numbers: only loopback
		// may be reached in clear without saying so.
		c.add("webhook.url", "plain http to a host that is not loopback is refused: use https, or set webhook.allow_http: true")
	}
	if w.Secret == "" {
		c.add("webhook.secret", "must be set when webhook.url is: it signs every event")
	}
}

// checkKeySenders checks that api_keys[].sender names a sender.
func (f *File) checkKeySenders(c *checker) {
	names := map[string]bool{}
	for _, s := range f.Senders {
		names[s.Name] = true
	}
	for i, k := range f.APIKeys {
		if k.Sender != "" && !names[k.Sender] {
			c.addf(fmt.Sprintf("api_keys[%d].sender", i), "%q is not the name of a sender", k.Sender)
		}
	}
}

func (f *File) checkPolicies(c *checker) map[string]bool {
	names := map[string]string{}
	for i, pol := range f.Policies {
		p := fmt.Sprintf("policies[%d]", i)
		if prev := names[pol.Name]; prev != "" && pol.Name != "" {
			c.addf(p+".name", "%q is also the name of %s", pol.Name, prev)
		} else {
			names[pol.Name] = p
		}
		up := pol.unify()
		for _, fe := range up.Validate(p) {
			c.add(fe.Field, fe.Message)
		}
	}
	defined := map[string]bool{"default": true}
	for n := range names {
		defined[n] = true
	}
	return defined
}

func (f *File) checkSenders(c *checker, policies map[string]bool) {
	if len(f.Senders) == 0 {
		c.add("senders", "must hold at least one sender: it is the \"from\" of the send API")
	}
	names, numbers := map[string]string{}, map[string]string{}
	for i, s := range f.Senders {
		p := fmt.Sprintf("senders[%d]", i)
		switch {
		case s.Name == "":
			c.add(p+".name", "must not be empty")
		case names[s.Name] != "":
			c.addf(p+".name", "%q is also the name of %s", s.Name, names[s.Name])
		default:
			names[s.Name] = p
		}
		if s.SMSSource == "" && len(s.SMSNumbers) == 0 && s.RBMAgent == "" {
			c.add(p, "needs at least one of sms_source, sms_numbers and rbm_agent")
		}
		if s.SMSSource != "" {
			c.add(p+".sms_source", checkSource(s.SMSSource))
		}
		for j, n := range s.SMSNumbers {
			np := fmt.Sprintf("%s.sms_numbers[%d]", p, j)
			if msg := checkE164(n); msg != "" {
				c.add(np, msg)
				continue
			}
			// A reply to a pool number must lead to one sender.
			if prev := numbers[n]; prev != "" {
				c.addf(np, "%s is also listed at %s", n, prev)
				continue
			}
			numbers[n] = np
		}
		if s.DefaultPolicy != "" && !policies[s.DefaultPolicy] {
			c.addf(p+".default_policy", "no policy named %q", s.DefaultPolicy)
		}
		if r := s.Retention; r != nil {
			if r.Content == nil && r.Metadata == nil {
				c.add(p+".retention", "must set content, metadata or both")
			}
			if r.Content != nil && *r.Content < 0 {
				c.add(p+".retention.content", "must not be negative")
			}
			if r.Metadata != nil && *r.Metadata < 0 {
				c.add(p+".retention.metadata", "must not be negative")
			}
		}
	}
}

var carrierName = regexp.MustCompile(`^[a-z0-9_-]+$`)

func (f *File) checkCarriers(c *checker) {
	if len(f.Carriers) == 0 {
		c.add("carriers", "must hold at least one carrier")
	}
	names, prefixes := map[string]string{}, map[string]string{}
	for i, cr := range f.Carriers {
		p := fmt.Sprintf("carriers[%d]", i)
		switch {
		case cr.Name == "":
			c.add(p+".name", "must not be empty")
		case !carrierName.MatchString(cr.Name):
			c.add(p+".name", "may only hold a-z, 0-9, '-' and '_' (it appears in callback URLs)")
		case names[cr.Name] != "":
			c.addf(p+".name", "%q is also the name of %s", cr.Name, names[cr.Name])
		default:
			names[cr.Name] = p
		}
		if len(cr.Prefixes) == 0 {
			c.add(p+".prefixes", "must hold at least one E.164 prefix, such as +33")
		}
		for j, pre := range cr.Prefixes {
			pp := fmt.Sprintf("%s.prefixes[%d]", p, j)
			switch {
			case !isPrefix(pre):
				c.add(pp, "must be + then 1 to 15 digits, such as +33")
			case prefixes[pre] != "":
				// Routing picks the longest prefix: the same prefix twice
				// would leave the choice to the order of the file.
				c.addf(pp, "%s is also listed at %s", pre, prefixes[pre])
			default:
				prefixes[pre] = pp
			}
		}
		if cr.SMPP == nil && cr.RBM == nil && cr.MM7 == nil {
			c.add(p, "needs at least one of smpp, rbm and mm7")
		}
		if cr.SMPP != nil {
			checkSMPP(c, p+".smpp", cr.SMPP)
		}
		if cr.RBM != nil {
			checkRBM(c, p+".rbm", cr.RBM)
		}
		if cr.MM7 != nil {
			checkMM7(c, p+".mm7", cr.MM7)
		}
	}
}

// Valid TON and NPI values (shared/specs/smpp.md §3.1).
var validNPI = map[int]bool{0: true, 1: true, 3: true, 4: true, 6: true, 8: true, 9: true, 10: true, 14: true, 18: true}

func checkSMPP(c *checker, p string, s *SMPP) {
	c.add(p+".address", checkHostPort(s.Address, true, 1))
	// Lengths are those of the bind PDU's C-Octet Strings less the NUL
	// (smpp.md §2): a longer value would be cut or refused by the SMSC.
	switch n := len(s.SystemID); {
	case n == 0:
		c.add(p+".system_id", "must not be empty")
	case n > 15:
		c.add(p+".system_id", "must be at most 15 characters")
	}
	if len(s.Password) > 8 {
		c.add(p+".password", "must be at most 8 characters")
	}
	if len(s.SystemType) > 12 {
		c.add(p+".system_type", "must be at most 12 characters")
	}
	c.between(p+".binds", s.Binds, 1, 64)
	c.between(p+".tps", s.TPS, 1, 100000)
	c.between(p+".window", s.Window, 1, 1000)
	if s.EnquireLink.Duration() < time.Second {
		c.add(p+".enquire_link", "must be at least 1s")
	}
	if s.ResponseTimeout <= 0 {
		c.add(p+".response_timeout", "must be more than 0s")
	}
	if s.CAFile != "" {
		if !s.TLS {
			c.add(p+".ca_file", "needs tls: true")
		}
		c.add(p+".ca_file", checkFile(s.CAFile))
	}
	for _, o := range []struct {
		key string
		v   *int
		ok  func(int) bool
		msg string
	}{
		{"source_ton", s.SourceTON, validTON, "must be a TON from 0 to 6"},
		{"dest_ton", s.DestTON, validTON, "must be a TON from 0 to 6"},
		{"source_npi", s.SourceNPI, func(v int) bool { return validNPI[v] }, "must be an NPI: 0, 1, 3, 4, 6, 8, 9, 10, 14 or 18"},
		{"dest_npi", s.DestNPI, func(v int) bool { return validNPI[v] }, "must be an NPI: 0, 1, 3, 4, 6, 8, 9, 10, 14 or 18"},
	} {
		if o.v != nil && !o.ok(*o.v) {
			c.add(p+"."+o.key, o.msg)
		}
	}
}

func validTON(v int) bool { return v >= 0 && v <= 6 }

func checkRBM(c *checker, p string, r *RBM) {
	c.add(p+".base_url", checkHTTPURL(r.BaseURL))
	c.add(p+".token_url", checkHTTPURL(r.TokenURL))
	switch {
	case r.CredentialsFile != "" && r.Token != "":
		c.add(p, "set credentials_file or token, not both")
	case r.CredentialsFile == "" && r.Token == "":
		c.add(p, "needs credentials_file (a service-account JSON key) or token")
	case r.CredentialsFile != "":
		c.add(p+".credentials_file", checkServiceAccount(r.CredentialsFile))
	}
	if r.WebhookSecret == "" {
		c.add(p+".webhook_secret", "must be set: it verifies RBM callbacks")
	}
	if r.Timeout <= 0 {
		c.add(p+".timeout", "must be more than 0s")
	}
}

var mm7Version = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+$`)

func checkMM7(c *checker, p string, m *MM7) {
	c.add(p+".url", checkHTTPURL(m.URL))
	if m.VASPID == "" {
		c.add(p+".vasp_id", "must not be empty")
	}
	c.between(p+".max_size", m.MaxSize, 1000, 10_000_000)
	if u, err := url.Parse(m.Namespace); err != nil || !u.IsAbs() {
		c.add(p+".namespace", "must be an absolute URI, such as "+DefaultMM7Namespace)
	}
	if !mm7Version.MatchString(m.Version) {
		c.add(p+".version", "must be a version such as 6.8.0")
	}
}

func (f *File) checkPrivacy(c *checker) {
	pr := f.Privacy
	switch pr.Encryption {
	case "", "on", "off":
	default:
		c.add("privacy.encryption", "must be on or off")
	}
	// The key is a secret: it is never quoted back.
	if pr.EncryptionKey != "" {
		if k, err := base64.StdEncoding.DecodeString(pr.EncryptionKey); err != nil || len(k) != 32 {
			c.add("privacy.encryption_key", "must be the standard base64 of 32 bytes (openssl rand -base64 32)")
		}
	} else if pr.Encryption != "off" {
		c.add("privacy.encryption_key", "must be set (the base64 of 32 bytes) unless privacy.encryption is off")
	}
	if pr.ContentRetention < 0 {
		c.add("privacy.content_retention", "must not be negative")
	}
	if pr.MetadataRetention < 0 {
		c.add("privacy.metadata_retention", "must not be negative")
	}
	for i, k := range pr.OldEncryptionKeys {
		p := fmt.Sprintf("privacy.old_encryption_keys[%d]", i)
		switch b, err := base64.StdEncoding.DecodeString(k); {
		case err != nil || len(b) != 32:
			c.add(p, "must be the standard base64 of 32 bytes")
		case k == pr.EncryptionKey:
			c.add(p, "is the current privacy.encryption_key")
		}
	}
}

// checkHostPort returns a problem with addr as host:port, or "". The host
// may be empty (all interfaces) unless needHost.
func checkHostPort(addr string, needHost bool, minPort int) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "must be host:port, such as 127.0.0.1:8080"
	}
	if needHost && host == "" {
		return "must name a host, such as 127.0.0.1:2775"
	}
	if n, err := strconv.Atoi(port); err != nil || n < minPort || n > 65535 {
		return fmt.Sprintf("port must be a number from %d to 65535", minPort)
	}
	return ""
}

// checkDatabase never quotes the value: a postgres URL may hold a password.
func checkDatabase(db string) string {
	if path, ok := strings.CutPrefix(db, "sqlite:"); ok {
		if path == "" {
			return "sqlite: needs a path, such as sqlite:./data/gateway.db"
		}
		return ""
	}
	if strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://") {
		if _, err := url.Parse(db); err != nil {
			return "is not a valid postgres:// URL"
		}
		return ""
	}
	return "must be sqlite:PATH or a postgres:// URL"
}

func checkHTTPURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "must be an absolute http or https URL"
	}
	return ""
}

// isLoopback reports whether host is localhost, in 127.0.0.0/8 or ::1.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func checkE164(n string) string {
	if !unify.LooksE164(n) {
		return "must be an E.164 number: + then the country code and number, digits only, such as +33700000001"
	}
	num, err := phonenumbers.Parse(n, "")
	if err != nil || !phonenumbers.IsPossibleNumber(num) {
		return "is not a possible number in its country's numbering plan"
	}
	return ""
}

// checkSource checks an SMS source address (smpp.md §3.1): an E.164 long
// number, a short code of up to 8 digits, or an alphanumeric sender id of
// up to 11 characters that every network carries unchanged.
func checkSource(s string) string {
	if strings.HasPrefix(s, "+") {
		return checkE164(s)
	}
	if strings.Trim(s, "0123456789") == "" {
		if len(s) > 8 {
			return "a number of more than 8 digits is a long number: write it in E.164, with + and the country code"
		}
		return ""
	}
	if utf8.RuneCountInString(s) > 11 {
		return "an alphanumeric sender id must be at most 11 characters"
	}
	for _, r := range s {
		if !gsmSafe(r) {
			return fmt.Sprintf("an alphanumeric sender id may hold only letters A-Z, digits, spaces and GSM punctuation, not %q", r)
		}
	}
	return ""
}

// gsmSafe reports whether r is ASCII and in the GSM 03.38 default alphabet
// without the escape table. The escape-table characters ([]{}\^~|) take
// two septets and accented letters are often mangled, so alphanumeric
// sender ids stick to this set.
func gsmSafe(r rune) bool {
	switch {
	case r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z', r >= '0' && r <= '9':
		return true
	}
	return strings.ContainsRune(" !\"#$%&'()*+,-./:;<=>?@_", r)
}

func isPrefix(s string) bool {
	if len(s) < 2 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	return strings.Trim(s[1:], "0123456789") == ""
}

// checkFile reports a file that is missing or not a regular file.
func checkFile(name string) string {
	if name == "" {
		return "must not be empty"
	}
	fi, err := os.Stat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "no such file: " + name
	case err != nil:
		return "cannot be read: " + err.Error()
	case !fi.Mode().IsRegular():
		return "is not a regular file: " + name
	}
	return ""
}

// maxCredentials bounds the service-account file read: real ones are ~2 KiB.
const maxCredentials = 1 << 20

// checkServiceAccount checks that name is a Google service-account JSON key
// with the fields the RBM client signs its token requests with (rbm.md).
func checkServiceAccount(name string) string {
	if msg := checkFile(name); msg != "" {
		return msg
	}
	fh, err := os.Open(name)
	if err != nil {
		return "cannot be read: " + err.Error()
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, maxCredentials+1))
	if err != nil {
		return "cannot be read: " + err.Error()
	}
	if len(data) > maxCredentials {
		return "is too large for a service-account key"
	}
	var sa struct {
		ClientEmail string `json:"client_email"`
		PrivateKey  string `json:"private_key"`
	}
	if err := json.Unmarshal(data, &sa); err != nil {
		return "is not a JSON service-account key: " + err.Error()
	}
	switch {
	case sa.ClientEmail == "":
		return "has no client_email: not a service-account key"
	case sa.PrivateKey == "":
		return "has no private_key: not a service-account key"
	}
	if block, _ := pem.Decode([]byte(sa.PrivateKey)); block == nil {
		return "has a private_key that is not PEM"
	}
	return ""
}
