package config

import (
	"sort"
	"strconv"
	"strings"
)

// Problem is one thing wrong with a configuration file.
type Problem struct {
	// Path is the YAML path of the value ("carriers[0].smpp.tps"); empty
	// for a problem with the file as a whole, such as a YAML syntax error.
	Path    string
	Message string
	// Line is the 1-based line of the value in the file, 0 if unknown.
	Line int
}

// String formats p as "path: message" (just the message, after "line N: "
// when known, for a problem without a path).
func (p Problem) String() string {
	if p.Path == "" {
		if p.Line > 0 {
			return "line " + strconv.Itoa(p.Line) + ": " + p.Message
		}
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// Problems is every problem found in a configuration file, in file order.
// It is the error returned by Parse, Load and File.Validate.
type Problems []Problem

// Error lists the problems one a line, each as "path: message".
func (ps *Problems) Error() string {
	if ps == nil || len(*ps) == 0 {
		return "config: no problems"
	}
	lines := make([]string, len(*ps))
	for i, p := range *ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// sortProblems orders problems by line, those without a line last, keeping
// the order in which they were found otherwise.
func sortProblems(ps Problems) {
	sort.SliceStable(ps, func(i, j int) bool {
		li, lj := ps[i].Line, ps[j].Line
		if li == 0 || lj == 0 {
			return li != 0 && lj == 0
		}
		return li < lj
	})
}

// covers reports whether a problem at path p makes a problem at path q
// redundant: q is p or lies below it. A problem without a path covers nothing.
func covers(p, q string) bool {
	if p == "" || !strings.HasPrefix(q, p) {
		return false
	}
	rest := q[len(p):]
	return rest == "" || rest[0] == '.' || rest[0] == '['
}

// lineOf returns the line of path, or of its nearest ancestor that has one.
func lineOf(lines map[string]int, path string) int {
	for path != "" {
		if l, ok := lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}
