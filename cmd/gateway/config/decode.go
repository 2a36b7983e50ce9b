package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Load reads the configuration file at path and parses it like Parse.
// Relative file names in it are taken relative to the file's directory.
// lookupEnv resolves ${VAR}; nil means os.LookupEnv.
func Load(path string, lookupEnv func(string) (string, bool)) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	dir := filepath.Dir(path)
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return parse(data, lookupEnv, dir)
}

// Parse reads a configuration file's content: it decodes it strictly (an
// unknown key or a value of the wrong type is a problem), replaces ${VAR}
// in values from lookupEnv (nil means os.LookupEnv; "$${" stands for a
// literal "${"), applies defaults, and validates.
//
// A non-nil error is always a *Problems holding every problem found. The
// File is returned with it when all the problems are found by validation,
// and is nil when the YAML could not be read or decoded.
func Parse(data []byte, lookupEnv func(string) (string, bool)) (*File, error) {
	return parse(data, lookupEnv, "")
}

func parse(data []byte, lookupEnv func(string) (string, bool), dir string) (*File, error) {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	root, ps := readYAML(data)
	if len(ps) > 0 {
		return nil, &ps
	}
	d := &decoder{lookupEnv: lookupEnv, lines: map[string]int{}, maxVisits: minVisits + visitsPerByte*len(data)}
	f := &File{}
	f.setDefaults()
	if root != nil {
		if root.Kind != yaml.MappingNode {
			d.add("", root.Line, "the file must be a mapping of keys to values, got "+kindName(root))
		} else {
			d.mapping(root, reflect.ValueOf(f).Elem(), "")
		}
	}
	f.lines = d.lines
	f.finish(dir)
	if d.stopped {
		// Much of the file was not read: validating it would only add noise.
		sortProblems(d.problems)
		return nil, &d.problems
	}

	// Validation still runs after decoding problems so that one pass shows
	// as much as possible, but a value that could not be decoded would only
	// be reported again as empty or out of range.
	all := d.problems
	for _, vp := range f.validate() {
		redundant := false
		for _, dp := range d.problems {
			if covers(dp.Path, vp.Path) {
				redundant = true
				break
			}
		}
		if !redundant {
			all = append(all, vp)
		}
	}
	sortProblems(all)
	switch {
	case len(d.problems) > 0:
		return nil, &all
	case len(all) > 0:
		return f, &all
	}
	return f, nil
}

// readYAML parses data into a node tree. It returns nil for an empty
// document (which then fails validation like any file missing keys).
func readYAML(data []byte) (*yaml.Node, Problems) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, Problems{syntaxProblem(err)}
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		return nil, Problems{{Line: extra.Line, Message: "a second YAML document starts here; the file must hold one"}}
	case !errors.Is(err, io.EOF):
		return nil, Problems{syntaxProblem(err)}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil, nil
		}
		root = root.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		return nil, nil
	}
	return root, nil
}

var yamlLineErr = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func syntaxProblem(err error) Problem {
	msg := err.Error()
	if m := yamlLineErr.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return Problem{Line: line, Message: "YAML syntax: " + m[2]}
	}
	return Problem{Message: "YAML syntax: " + strings.TrimPrefix(msg, "yaml: ")}
}

const (
	// maxProblems bounds the decoding problems reported: past it, the file
	// is likely not a gateway config at all.
	maxProblems = 100
	// visitsPerByte and minVisits bound the nodes visited, since aliases
	// and merge keys can make a small document expand exponentially
	// ("billion laughs"); without aliases every node takes at least a byte.
	visitsPerByte = 4
	minVisits     = 10_000
	// maxDepth bounds alias recursion (an anchor may contain itself).
	maxDepth = 64
)

// decoder fills Go values from a YAML node tree, driven by the Go types:
// struct fields are named by their yaml tags, and every mismatch becomes a
// Problem with its path instead of stopping the decode.
type decoder struct {
	lookupEnv func(string) (string, bool)
	lines     map[string]int
	problems  Problems
	visits    int
	maxVisits int
	depth     int
	stopped   bool
}

func (d *decoder) add(path string, line int, msg string) {
	switch {
	case len(d.problems) < maxProblems:
		d.problems = append(d.problems, Problem{Path: path, Line: line, Message: msg})
	case len(d.problems) == maxProblems:
		d.problems = append(d.problems, Problem{Message: "too many problems; fix these first"})
	}
}

// enter guards against runaway expansion; every call must be paired with
// leave when it returns true.
func (d *decoder) enter(path string, n *yaml.Node) bool {
	if d.stopped {
		return false
	}
	d.visits++
	d.depth++
	if d.visits > d.maxVisits || d.depth > maxDepth {
		d.stopped = true
		d.depth--
		d.add(path, n.Line, "aliases expand too far (an anchor that contains itself, or too many aliases)")
		return false
	}
	return true
}

func (d *decoder) leave() { d.depth-- }

// defaulter is implemented by the config structs that have defaults; the
// decoder applies them to each value it creates, before the YAML overrides
// them, so that an explicit zero ("tps: 0") stays visible to validation.
type defaulter interface{ setDefaults() }

func newValue(t reflect.Type) reflect.Value {
	p := reflect.New(t)
	if df, ok := p.Interface().(defaulter); ok {
		df.setDefaults()
	}
	return p
}

var durationType = reflect.TypeOf(Duration(0))

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if !d.enter(path, n) {
		return
	}
	defer d.leave()
	if n.Kind == yaml.AliasNode {
		if n.Alias != nil {
			d.decode(n.Alias, v, path)
		}
		return
	}
	// A key with no value (or null) keeps its default, like a missing key.
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return
	}
	switch {
	case v.Type() == durationType:
		d.scalar(n, v, path)
	case v.Kind() == reflect.Pointer:
		if v.IsNil() {
			v.Set(newValue(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
	case v.Kind() == reflect.Struct:
		d.mapping(n, v, path)
	case v.Kind() == reflect.Slice:
		d.sequence(n, v, path)
	default:
		d.scalar(n, v, path)
	}
}

func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.add(path, n.Line, "must be a mapping of keys to values, got "+kindName(n))
		return
	}
	fields := yamlFields(v.Type())
	// Merge keys ("<<: *defaults") come first whatever their position, so
	// that the mapping's own keys override them, as YAML specifies.
	for i := 0; i+1 < len(n.Content); i += 2 {
		if isMerge(n.Content[i]) {
			d.merge(n.Content[i+1], v, path)
		}
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if isMerge(k) {
			continue
		}
		if k.Kind == yaml.AliasNode && k.Alias != nil {
			k = k.Alias
		}
		if k.Kind != yaml.ScalarNode {
			d.add(path, k.Line, "keys must be plain names, got "+kindName(k))
			continue
		}
		p := joinPath(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			d.add(p, k.Line, fmt.Sprintf("appears twice (first on line %d)", first))
			continue
		}
		seen[k.Value] = k.Line
		idx, ok := fields[k.Value]
		if !ok {
			d.add(p, k.Line, unknownKey(k.Value, fields))
			continue
		}
		d.lines[p] = k.Line
		d.decode(val, v.Field(idx), p)
	}
}

func (d *decoder) merge(n *yaml.Node, v reflect.Value, path string) {
	if !d.enter(path, n) {
		return
	}
	defer d.leave()
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		d.mapping(n, v, path)
		return
	case yaml.SequenceNode:
		// Earlier mappings in the list win, so they are applied last.
		for i := len(n.Content) - 1; i >= 0; i-- {
			m := n.Content[i]
			if m.Kind == yaml.AliasNode && m.Alias != nil {
				m = m.Alias
			}
			if m.Kind != yaml.MappingNode {
				d.add(joinPath(path, "<<"), m.Line, "must be a mapping or a list of mappings, got "+kindName(m))
				continue
			}
			d.mapping(m, v, path)
		}
		return
	}
	d.add(joinPath(path, "<<"), n.Line, "must be a mapping or a list of mappings, got "+kindName(n))
}

func (d *decoder) sequence(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.add(path, n.Line, "must be a list, got "+kindName(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), 0, len(n.Content))
	for i, item := range n.Content {
		p := fmt.Sprintf("%s[%d]", path, i)
		d.lines[p] = item.Line
		e := newValue(v.Type().Elem())
		d.decode(item, e.Elem(), p)
		s = reflect.Append(s, e.Elem())
	}
	v.Set(s)
}

func (d *decoder) scalar(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.add(path, n.Line, "must be "+expected(v.Type())+", got "+kindName(n))
		return
	}
	s, ok := d.expand(n.Value, path, n.Line)
	if !ok {
		return
	}
	switch {
	case v.Type() == durationType:
		dur, err := parseDuration(s)
		if err != nil {
			d.add(path, n.Line, "must be "+expected(v.Type())+", got "+quote(s))
			return
		}
		v.SetInt(int64(dur))
	case v.Kind() == reflect.String:
		v.SetString(s)
	case v.Kind() == reflect.Int:
		i, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 10, 64)
		if err != nil || v.OverflowInt(i) {
			d.add(path, n.Line, "must be "+expected(v.Type())+", got "+quote(s))
			return
		}
		v.SetInt(i)
	case v.Kind() == reflect.Bool:
		switch s {
		case "true", "True", "TRUE":
			v.SetBool(true)
		case "false", "False", "FALSE":
			v.SetBool(false)
		default:
			d.add(path, n.Line, "must be "+expected(v.Type())+", got "+quote(s))
		}
	default:
		// Only reached if a field of an unsupported type is added to File.
		d.add(path, n.Line, "cannot be decoded (unsupported type "+v.Type().String()+")")
	}
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// expand replaces ${NAME} in a scalar value. "$${" is a literal "${", and a
// "$" not followed by "{" is left alone, so passwords with "$" need no
// escaping. A value taken from the environment is not expanded again.
func (d *decoder) expand(s, path string, line int) (string, bool) {
	if !strings.Contains(s, "${") {
		return s, true
	}
	var b strings.Builder
	ok := true
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			b.WriteString("${")
			i += 3
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				d.add(path, line, "unterminated ${ (write $${ for a literal ${)")
				return "", false
			}
			name := s[i+2 : i+2+end]
			i += 2 + end + 1
			if !envName.MatchString(name) {
				d.add(path, line, fmt.Sprintf("${%s} does not name an environment variable (write $${ for a literal ${)", truncate(name)))
				ok = false
				continue
			}
			val, set := d.lookupEnv(name)
			if !set {
				d.add(path, line, "environment variable "+name+" is not set")
				ok = false
				continue
			}
			b.WriteString(val)
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String(), ok
}

// parseDuration reads a Go duration string; a bare "0" is accepted since
// it means the same in every unit.
func parseDuration(s string) (time.Duration, error) {
	if s == "0" {
		return 0, nil
	}
	return time.ParseDuration(s)
}

func isMerge(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == "!!merge"
}

func joinPath(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

func yamlFields(t reflect.Type) map[string]int {
	m := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if f.IsExported() && name != "" && name != "-" {
			m[name] = i
		}
	}
	return m
}

func unknownKey(key string, fields map[string]int) string {
	best, bestDist := "", 3
	for name := range fields {
		if dist := editDistance(key, name); dist < bestDist || (dist == bestDist && name < best) {
			best, bestDist = name, dist
		}
	}
	if best != "" && bestDist <= len(best)/3+1 {
		return fmt.Sprintf("unknown key (did you mean %q?)", best)
	}
	return "unknown key"
}

// editDistance is the optimal string alignment distance (Levenshtein plus
// adjacent transpositions, the commonest typo), for "did you mean" hints.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 30
	}
	dist := make([][]int, len(a)+1)
	for i := range dist {
		dist[i] = make([]int, len(b)+1)
		dist[i][0] = i
	}
	for j := range dist[0] {
		dist[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			dist[i][j] = min(dist[i-1][j]+1, dist[i][j-1]+1, dist[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				dist[i][j] = min(dist[i][j], dist[i-2][j-2]+1)
			}
		}
	}
	return dist[len(a)][len(b)]
}

func expected(t reflect.Type) string {
	switch {
	case t == durationType:
		return "a duration such as 30s, 10m or 168h"
	case t.Kind() == reflect.Int:
		return "a whole number"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() == reflect.String:
		return "a single value"
	}
	return "a single value"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		return quote(n.Value)
	}
	return "nothing"
}

func truncate(s string) string {
	const limit = 40
	if len(s) > limit {
		return s[:limit] + "…"
	}
	return s
}

func quote(s string) string { return strconv.Quote(truncate(s)) }
