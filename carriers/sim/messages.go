package sim

import (
	"sort"
	"strings"
)

// Messages groups accepted submits into logical messages: concatenated
// parts are joined by (source, dest, reference, total) in sequence order; a
// part whose sequence number the open group already has starts a new group
// (a reused reference). Messages are ordered by their first part's arrival.
func (s *Sim) Messages() []Message {
	subs := s.Submits()
	type key struct {
		src, dst string
		ref      uint16
		ref16    bool
		total    int
	}
	var (
		msgs []Message
		open = map[key]int{}
	)
	for _, sub := range subs {
		if sub.Status != 0 || sub.MessageID == "" {
			continue
		}
		if sub.Concat == nil || sub.Concat.Total == 1 {
			msgs = append(msgs, Message{Source: sub.Source, Dest: sub.Dest, DataCoding: sub.DataCoding, Parts: []Submit{sub}})
			continue
		}
		k := key{sub.Source, sub.Dest, sub.Concat.Ref, sub.Concat.Ref16, sub.Concat.Total}
		i, ok := open[k]
		if ok {
			for _, p := range msgs[i].Parts {
				if p.Concat.Seq == sub.Concat.Seq {
					ok = false
					break
				}
			}
		}
		if !ok {
			msgs = append(msgs, Message{Source: sub.Source, Dest: sub.Dest, DataCoding: sub.DataCoding})
			i = len(msgs) - 1
			open[k] = i
		}
		msgs[i].Parts = append(msgs[i].Parts, sub)
	}
	for i := range msgs {
		m := &msgs[i]
		sort.SliceStable(m.Parts, func(a, b int) bool { return seqOf(m.Parts[a]) < seqOf(m.Parts[b]) })
		var sb strings.Builder
		for _, p := range m.Parts {
			sb.WriteString(p.Text)
		}
		m.Text = sb.String()
		total := 1
		if c := m.Parts[0].Concat; c != nil {
			total = c.Total
		}
		m.Complete = len(m.Parts) == total
	}
	return msgs
}

func seqOf(s Submit) int {
	if s.Concat == nil {
		return 1
	}
	return s.Concat.Seq
}
