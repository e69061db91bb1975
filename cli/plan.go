package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// operation is one RFC 6902 operation. Value is raw so that a null value is
// sent as null rather than left out.
type operation struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	Value json.RawMessage `json:"value,omitempty"`
}

func op(kind, member string, index int, value any) operation {
	path := "/" + member
	if index >= 0 {
		path += fmt.Sprintf("/%d", index)
	} else if index == appendIndex {
		path += "/-"
	}
	o := operation{Op: kind, Path: path}
	if kind != "remove" {
		o.Value, _ = json.Marshal(value)
	}
	return o
}

const (
	wholeMember = -1
	appendIndex = -2
)

// diff returns the RFC 6902 patch that turns cur's settable members into
// want's, in settable's order, and one problem per member that differs but
// can be set only at creation. A list that only grew at its end gets an add
// per new element, one that only lost elements a remove per element (last
// first, so the indices stay right); any other change replaces the member.
func diff(cur, want map[string]any) (ops []operation, immutable []string) {
	for _, m := range settable {
		a, b := cur[m.name], want[m.name]
		if jsonEqual(a, b) {
			continue
		}
		if !m.patchable {
			immutable = append(immutable, m.name)
			continue
		}
		al, aok := a.([]any)
		bl, bok := b.([]any)
		if aok && bok {
			ops = append(ops, listDiff(m.name, al, bl)...)
			continue
		}
		ops = append(ops, op("replace", m.name, wholeMember, b))
	}
	return ops, immutable
}

func listDiff(member string, a, b []any) []operation {
	if len(b) > len(a) && jsonEqual(a, b[:len(a)]) {
		ops := make([]operation, 0, len(b)-len(a))
		for _, v := range b[len(a):] {
			ops = append(ops, op("add", member, appendIndex, v))
		}
		return ops
	}
	if len(b) < len(a) {
		// b is a subsequence of a: remove the others, highest index first.
		var gone []int
		j := 0
		for i := range a {
			if j < len(b) && jsonEqual(a[i], b[j]) {
				j++
			} else {
				gone = append(gone, i)
			}
		}
		if j == len(b) {
			ops := make([]operation, 0, len(gone))
			for k := len(gone) - 1; k >= 0; k-- {
				ops = append(ops, op("remove", member, gone[k], nil))
			}
			return ops
		}
	}
	return []operation{op("replace", member, wholeMember, b)}
}

// createBody is the create body of e: the members the file gives, in
// settable's order so that the plan reads like the file. The server fills
// in the defaults of the others, as the file means.
func createBody(e *entry) ([]byte, error) {
	b := []byte{'{'}
	for _, m := range settable {
		if !e.given(m.name) {
			continue
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, m.name)
		v, err := json.Marshal(e.values[m.name])
		if err != nil {
			return nil, err
		}
		b = append(append(b, ':'), v...)
	}
	return append(b, '}'), nil
}

// jsonEqual compares JSON-shaped values (numbers as float64).
func jsonEqual(a, b any) bool { return reflect.DeepEqual(normalize(a), normalize(b)) }

func normalize(v any) any {
	switch v := v.(type) {
	case int:
		return float64(v)
	case []any:
		if len(v) == 0 {
			return []any{}
		}
		out := make([]any, len(v))
		for i := range v {
			out[i] = normalize(v[i])
		}
		return out
	}
	return v
}

// update is a planned patch of an existing client, conditional on the ETag
// of the state it was computed from.
type update struct {
	id, name, etag string
	ops            []operation
}

// removal is a planned delete (--prune) of a client the file lacks.
type removal struct {
	id, name, etag string
	self           bool // the client this command authenticates as
}

// creation is a planned create of a client the file has and the server not.
type creation struct {
	name string
	body []byte // the create body: every settable member
}

// plan is what apply will do, computed before anything is sent.
type plan struct {
	creates   []creation
	updates   []update
	deletes   []removal
	kept      []removal // not in the file; kept without --prune
	unchanged int
	problems  []string // FILE:LINE: why the file cannot be applied
}

func (p *plan) empty() bool { return len(p.creates)+len(p.updates)+len(p.deletes) == 0 }

// planApply matches the file's clients to the server's and computes each
// one's patch. A client with an id is that server client (an id the server
// lacks is a problem: ids are the server's to give). A client without id
// is the server client of the same name that no id in the file claims —
// so a second apply of a file that created it finds it again — and is
// created when there is none; two such server clients are a problem.
// Server clients the file does not match are deleted with prune and kept
// otherwise; self, the caller's own client, is never deleted.
func planApply(file string, entries []entry, server []serverClient, prune bool, self string) (*plan, []*entry, []*serverClient) {
	p := &plan{}
	byID := make(map[string]*serverClient, len(server))
	for i := range server {
		byID[server[i].id] = &server[i]
	}
	claimed := make(map[string]bool, len(entries))
	for _, e := range entries {
		if e.id != "" {
			claimed[e.id] = true
		}
	}
	byName := map[string][]*serverClient{}
	for i := range server {
		if c := &server[i]; !claimed[c.id] {
			byName[c.name()] = append(byName[c.name()], c)
		}
	}
	var matchedEntries []*entry
	var matchedServer []*serverClient
	used := make(map[string]bool, len(entries))
	for i := range entries {
		e := &entries[i]
		var cur *serverClient
		if e.id != "" {
			if cur = byID[e.id]; cur == nil {
				p.problems = append(p.problems, fmt.Sprintf("%s:%d: client %s does not exist on the server; remove its id to create it anew", file, e.line, e.id))
				continue
			}
		} else {
			switch same := byName[e.name()]; len(same) {
			case 0:
				body, err := createBody(e)
				if err != nil {
					p.problems = append(p.problems, fmt.Sprintf("%s:%d: %v", file, e.line, err))
					continue
				}
				p.creates = append(p.creates, creation{name: e.name(), body: body})
				continue
			case 1:
				cur = same[0]
			default:
				p.problems = append(p.problems, fmt.Sprintf("%s:%d: %d clients on the server are named %q; give this one's id", file, e.line, len(same), e.name()))
				continue
			}
		}
		used[cur.id] = true
		matchedEntries = append(matchedEntries, e)
		matchedServer = append(matchedServer, cur)
	}
	for i := range server {
		c := &server[i]
		if used[c.id] {
			continue
		}
		if prune && c.id != self {
			p.deletes = append(p.deletes, removal{id: c.id, name: c.name()})
		} else {
			p.kept = append(p.kept, removal{id: c.id, name: c.name(), self: prune})
		}
	}
	return p, matchedEntries, matchedServer
}

// addUpdate records e's patch from cur, whose ETag is etag.
func (p *plan) addUpdate(file string, e *entry, cur *serverClient, etag string) {
	ops, immutable := diff(cur.values, e.values)
	for _, m := range immutable {
		b, _ := json.Marshal(cur.values[m])
		p.problems = append(p.problems, fmt.Sprintf("%s:%d: client %s: %s is set only when a client is created (the server has %s); delete and recreate the client to change it",
			file, e.lineOf(m), cur.id, m, b))
	}
	if len(immutable) > 0 {
		return
	}
	if len(ops) == 0 {
		p.unchanged++
		return
	}
	p.updates = append(p.updates, update{id: cur.id, name: cur.name(), etag: etag, ops: ops})
}

// print writes the plan: each create's body, each update's operations one
// per line, each delete, what is kept, then a summary line.
func (p *plan) print(w io.Writer) {
	sort.SliceStable(p.updates, func(i, j int) bool { return p.updates[i].id < p.updates[j].id })
	for _, c := range p.creates {
		fmt.Fprintf(w, "+ create %q\n    %s\n", c.name, c.body)
	}
	for _, u := range p.updates {
		fmt.Fprintf(w, "~ patch %s %q\n", u.id, u.name)
		for _, o := range u.ops {
			b, _ := json.Marshal(o)
			fmt.Fprintf(w, "    %s\n", b)
		}
	}
	for _, d := range p.deletes {
		fmt.Fprintf(w, "- delete %s %q\n", d.id, d.name)
	}
	for _, k := range p.kept {
		why := "--prune deletes it"
		if k.self {
			why = "kept: this command authenticates as it"
		}
		fmt.Fprintf(w, "  keep %s %q: not in the file (%s)\n", k.id, k.name, why)
	}
	fmt.Fprintln(w, p.summary())
}

func (p *plan) summary() string {
	parts := []string{
		fmt.Sprintf("%d to create", len(p.creates)),
		fmt.Sprintf("%d to patch", len(p.updates)),
		fmt.Sprintf("%d to delete", len(p.deletes)),
		fmt.Sprintf("%d unchanged", p.unchanged),
	}
	if len(p.kept) > 0 {
		parts = append(parts, fmt.Sprintf("%d not in the file, kept", len(p.kept)))
	}
	return "Plan: " + strings.Join(parts, ", ") + "."
}
