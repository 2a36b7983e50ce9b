package carriers

import (
	"fmt"
	"sort"
	"strings"

	"gateway/unify"
)

// Carrier is one carrier as the router sees it.
type Carrier struct {
	Name     string
	Prefixes []string // E.164 prefixes with the '+', e.g. "+33"
	Channels []unify.ChannelKind
}

// Offers reports whether the carrier has a link for channel c.
func (c *Carrier) Offers(k unify.ChannelKind) bool {
	for _, ch := range c.Channels {
		if ch == k {
			return true
		}
	}
	return false
}

// Router routes E.164 numbers to carriers by longest matching prefix.
type Router struct {
	byName  map[string]*Carrier
	entries []routeEntry // sorted by prefix length, longest first
}

type routeEntry struct {
	prefix  string
	carrier *Carrier
}

// NewRouter builds a router. A prefix claimed by two carriers is an error:
// which one wins would otherwise depend on the order of the config file.
func NewRouter(list []Carrier) (*Router, error) {
	r := &Router{byName: make(map[string]*Carrier, len(list))}
	owner := map[string]string{}
	for i := range list {
		c := &list[i]
		if _, dup := r.byName[c.Name]; dup {
			return nil, fmt.Errorf("carriers: carrier %q defined twice", c.Name)
		}
		r.byName[c.Name] = c
		for _, p := range c.Prefixes {
			if !strings.HasPrefix(p, "+") {
				return nil, fmt.Errorf("carriers: %s: prefix %q must start with +", c.Name, p)
			}
			if other, ok := owner[p]; ok {
				return nil, fmt.Errorf("carriers: prefix %s claimed by %s and %s", p, other, c.Name)
			}
			owner[p] = c.Name
			r.entries = append(r.entries, routeEntry{prefix: p, carrier: c})
		}
	}
	sort.SliceStable(r.entries, func(i, j int) bool { return len(r.entries[i].prefix) > len(r.entries[j].prefix) })
	return r, nil
}

// Route returns the carrier serving number, or false when none does.
func (r *Router) Route(number string) (*Carrier, bool) {
	for _, e := range r.entries {
		if strings.HasPrefix(number, e.prefix) {
			return e.carrier, true
		}
	}
	return nil, false
}

// Carrier returns a carrier by name.
func (r *Router) Carrier(name string) (*Carrier, bool) {
	c, ok := r.byName[name]
	return c, ok
}

// Carriers lists every carrier, sorted by name.
func (r *Router) Carriers() []*Carrier {
	out := make([]*Carrier, 0, len(r.byName))
	for _, c := range r.byName {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
