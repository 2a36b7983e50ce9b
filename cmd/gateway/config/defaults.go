package config

import (
	"net"
	"path/filepath"
	"strings"
	"time"
)

// Default values of the file (CONTRACT.md, "Configuration").
const (
	DefaultListen      = "127.0.0.1:8080"
	DefaultDatabase    = "sqlite:./data/gateway.db"
	DefaultRBMBaseURL  = "https://rcsbusinessmessaging.googleapis.com"
	DefaultRBMTokenURL = "https://oauth2.googleapis.com/token"
	// DefaultMM7Namespace and DefaultMM7Version are the REL-6-MM7-1-4 schema
	// and its MM7Version (shared/specs/mm7.md §1).
	DefaultMM7Namespace = "http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-6-MM7-1-4"
	DefaultMM7Version   = "6.8.0"
	DefaultMM7MaxSize   = 614400
	DefaultSimSMPP      = "127.0.0.1:2775"
	DefaultSimHTTP      = "127.0.0.1:8090"
)

func (f *File) setDefaults() {
	f.Listen = DefaultListen
	f.Database = DefaultDatabase
	f.Webhook.Timeout = Duration(10 * time.Second)
	f.Webhook.Pipeline = 1
	f.Privacy.ContentRetention = Duration(168 * time.Hour)
	f.Privacy.MetadataRetention = Duration(2160 * time.Hour)
	f.Log = Log{Level: "info", Format: "text"}
}

func (k *APIKey) setDefaults() { k.Dialect = DialectUnified }

func (s *Sender) setDefaults() { s.DefaultPolicy = "default" }

func (s *SMPP) setDefaults() {
	s.Binds = 1
	s.TPS = 100
	s.Window = 10
	s.EnquireLink = Duration(30 * time.Second)
	s.ResponseTimeout = Duration(10 * time.Second)
}

func (r *RBM) setDefaults() {
	r.BaseURL = DefaultRBMBaseURL
	r.TokenURL = DefaultRBMTokenURL
	r.Timeout = Duration(10 * time.Second)
}

func (m *MM7) setDefaults() {
	m.MaxSize = DefaultMM7MaxSize
	m.Namespace = DefaultMM7Namespace
	m.Version = DefaultMM7Version
}

func (p *Policy) setDefaults() {
	p.OnRevokeFailure = "suppress"
	p.SMS.NumberReplies = true
}

func (s *Sim) setDefaults() {
	s.SMPP = DefaultSimSMPP
	s.HTTP = DefaultSimHTTP
}

// finish fills the values that depend on others and makes relative file
// names relative to dir (the config file's directory; "" leaves them as
// they are).
func (f *File) finish(dir string) {
	if f.PublicURL == "" {
		f.PublicURL = defaultPublicURL(f.Listen, f.TLS != nil)
	}
	f.PublicURL = strings.TrimRight(f.PublicURL, "/")
	if dir == "" {
		return
	}
	if f.TLS != nil {
		f.TLS.CertFile = under(dir, f.TLS.CertFile)
		f.TLS.KeyFile = under(dir, f.TLS.KeyFile)
	}
	for i := range f.Carriers {
		c := &f.Carriers[i]
		if c.SMPP != nil {
			c.SMPP.CAFile = under(dir, c.SMPP.CAFile)
		}
		if c.RBM != nil {
			c.RBM.CredentialsFile = under(dir, c.RBM.CredentialsFile)
		}
	}
	f.Database = sqliteUnder(dir, f.Database)
}

func defaultPublicURL(listen string, tls bool) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "" // Validate reports listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	scheme := "http://"
	if tls {
		scheme = "https://"
	}
	return scheme + net.JoinHostPort(host, port)
}

func under(dir, name string) string {
	if name == "" || filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(dir, name)
}

// sqliteUnder resolves the path of a "sqlite:PATH[?params]" database;
// ":memory:" and "file:" URIs are passed through as written.
func sqliteUnder(dir, db string) string {
	rest, ok := strings.CutPrefix(db, "sqlite:")
	if !ok || rest == "" || strings.HasPrefix(rest, ":memory:") || strings.HasPrefix(rest, "file:") {
		return db
	}
	path, query, hasQuery := strings.Cut(rest, "?")
	if path == "" {
		return db
	}
	out := "sqlite:" + under(dir, path)
	if hasQuery {
		out += "?" + query
	}
	return out
}
