package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	goccy "github.com/goccy/go-yaml"
	goccyparser "github.com/goccy/go-yaml/parser"
	yaml "go.yaml.in/yaml/v3"

	"github.com/clientele/clientele/models"
)

// The clients file of export and apply:
//
//	clients:
//	- id: 0190f1a2b3c47d8e9fa0b1c2d3e4f5a6   # absent for a client apply should create
//	  name: Acme CI
//	  grantTypes: [CLIENT_CREDENTIALS]
//	  …
//
// Each client holds the members apply can set (settable below); secrets are
// write-only and never part of it. A member left out means its create
// default, as PUT does (SPEC §3): the file is the whole wanted state.

// member is one member apply can set: a Mutable member of models' table
// (patched on an existing client) or an Immutable one (set only when the
// client is created). Server-set members and secrets are not in the file.
type member struct {
	name      string
	typ       models.JSONType
	nullable  bool
	required  bool // no default: the file must give it
	patchable bool
	phrase    string // "a string or null", as the server's causes say
	def       any    // the create default, JSON-shaped (float64, []any, map); nil is null
}

// settable lists every member apply can set, name first and then in the
// wire order, with the defaults of models.NewClient: derived from the one
// table of members, so a new member is exported, parsed and diffed
// without a change here.
var settable = func() []member {
	def := models.NewClient()
	var ms []member
	for _, m := range models.Members() {
		if m.Access != models.Mutable && m.Access != models.Immutable {
			continue
		}
		var v any
		if err := json.Unmarshal(m.AppendJSON(nil, &def), &v); err != nil {
			panic("models: default of " + m.Name + ": " + err.Error())
		}
		e := member{name: m.Name, typ: m.Type, nullable: m.Nullable, required: m.Required,
			patchable: m.Patchable(), phrase: m.TypePhrase(), def: v}
		if m.Name == "name" {
			ms = append([]member{e}, ms...)
		} else {
			ms = append(ms, e)
		}
	}
	return ms
}()

func settableMember(name string) (member, bool) {
	for _, m := range settable {
		if m.name == name {
			return m, true
		}
	}
	return member{}, false
}

// entry is one client of a clients file: every settable member, defaults
// filled in, as JSON-shaped values.
type entry struct {
	id     string
	line   int            // of the client's "-"
	values map[string]any // every settable member, defaults filled in
	lines  map[string]int // the line of each member the file gives
}

// given reports whether the file gives member (rather than its default).
func (e *entry) given(member string) bool { _, ok := e.lines[member]; return ok }

func (e *entry) name() string { s, _ := e.values["name"].(string); return s }

// lineOf is the line of member in the file, or of the client itself when
// the file leaves the member to its default.
func (e *entry) lineOf(member string) int {
	if l, ok := e.lines[member]; ok {
		return l
	}
	return e.line
}

// fileErrors are the problems of one clients file, each "FILE:LINE: …".
type fileErrors []string

func (fe fileErrors) Error() string { return strings.Join(fe, "\n") }

// maxFileErrors bounds how many problems of a file are reported at once.
const maxFileErrors = 50

// syntaxError places a YAML syntax error. yaml.v3 reports the line where
// the enclosing block starts, or none, rather than the line of the mistake;
// goccy/go-yaml's parser finds the token itself, so it is asked for the
// position and message (yaml.v3's message is the fallback).
func syntaxError(file string, data []byte, err error) string {
	_, perr := goccyparser.ParseBytes(data, 0)
	var se *goccy.SyntaxError
	if errors.As(perr, &se) && se.Token != nil && se.Token.Position != nil {
		return fmt.Sprintf("%s:%d:%d: %s", file, se.Token.Position.Line, se.Token.Position.Column, se.Message)
	}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		return fmt.Sprintf("%s:%s: %s", file, m[1], m[2])
	}
	return fmt.Sprintf("%s: %s", file, strings.TrimPrefix(err.Error(), "yaml: "))
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseClients reads a clients file. Every problem — bad YAML, an unknown
// member, a wrong type, a missing required member, a repeated id or, among
// clients without id, a repeated name — is reported with file and line,
// and nothing is returned then.
func parseClients(file string, data []byte) ([]entry, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fileErrors{syntaxError(file, data, err)}
	}
	var errs fileErrors
	fail := func(n *yaml.Node, format string, args ...any) {
		if len(errs) < maxFileErrors {
			errs = append(errs, fmt.Sprintf("%s:%d: %s", file, n.Line, fmt.Sprintf(format, args...)))
		}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, fileErrors{file + ":1: empty file: want a mapping with \"clients\""}
	}
	root := resolve(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		fail(root, "want a mapping with \"clients\", got %s", describe(root))
		return nil, errs
	}
	var list *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], resolve(root.Content[i+1])
		switch {
		case k.Value != "clients":
			fail(k, "unknown member %q: a clients file has only \"clients\"", k.Value)
		case list != nil:
			fail(k, "\"clients\" given twice")
		case v.Kind == yaml.ScalarNode && v.Tag == "!!null":
			list = &yaml.Node{Kind: yaml.SequenceNode}
		case v.Kind != yaml.SequenceNode:
			fail(v, "clients: want a list, got %s", describe(v))
			return nil, errs
		default:
			list = v
		}
	}
	if list == nil && len(errs) == 0 {
		fail(root, "no \"clients\" list")
	}
	if list == nil {
		return nil, errs
	}
	entries := make([]entry, 0, len(list.Content))
	ids := map[string]int{}
	names := map[string]int{}
	for i, n := range list.Content {
		e, ok := parseClient(resolve(n), fmt.Sprintf("clients[%d]", i), fail)
		if !ok {
			continue
		}
		if e.id != "" {
			if l, dup := ids[e.id]; dup {
				fail(n, "clients[%d]: id %s is also the client at line %d", i, e.id, l)
				continue
			}
			ids[e.id] = e.line
		} else {
			if l, dup := names[e.name()]; dup {
				fail(n, "clients[%d]: another client without id, at line %d, has the name %q: apply could not tell them apart", i, l, e.name())
				continue
			}
			names[e.name()] = e.line
		}
		entries = append(entries, e)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return entries, nil
}

// parseClient reads one client mapping; ok is false when fail was called.
func parseClient(n *yaml.Node, where string, fail func(*yaml.Node, string, ...any)) (entry, bool) {
	e := entry{line: n.Line, values: map[string]any{}, lines: map[string]int{}}
	if n.Kind != yaml.MappingNode {
		fail(n, "%s: want a mapping of members, got %s", where, describe(n))
		return e, false
	}
	ok := true
	bad := func(node *yaml.Node, format string, args ...any) {
		fail(node, format, args...)
		ok = false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		name := k.Value
		if _, dup := e.lines[name]; dup || (name == "id" && e.id != "") {
			bad(k, "%s.%s: given twice", where, name)
			continue
		}
		if name == "id" {
			// An id is opaque text: 32 hex digits may well read as a number.
			if v.Kind != yaml.ScalarNode || v.Tag == "!!null" || v.Value == "" {
				bad(v, "%s.id: want a client id, got %s", where, describe(v))
				continue
			}
			e.id = v.Value
			continue
		}
		m, known := settableMember(name)
		if !known {
			bad(k, "%s: unknown member %q%s", where, name, hint(name))
			continue
		}
		val, err := decodeValue(v, m)
		if err != nil {
			bad(v, "%s.%s: want %s, got %s", where, name, m.phrase, describe(v))
			continue
		}
		e.values[name] = val
		e.lines[name] = k.Line
	}
	for _, m := range settable {
		if _, given := e.values[m.name]; given {
			continue
		}
		if m.required {
			bad(n, "%s: %q is required", where, m.name)
			continue
		}
		e.values[m.name] = cloneJSON(m.def)
	}
	return e, ok
}

// hint explains why a member that the server shows is not in the file.
func hint(name string) string {
	switch name {
	case "secret", "secrets":
		return ": secrets are write-only; apply writes a new client's secret to --secrets-out"
	case "created", "modified", "lastUsed":
		return ": the server sets it"
	}
	return ""
}

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "null"
		case "!!str":
			return strconv.Quote(n.Value)
		}
		return strings.TrimPrefix(n.Tag, "!!") + " " + n.Value
	}
	return "nothing"
}

var errWrongKind = errors.New("wrong kind")

// decodeValue turns a YAML node into the JSON-shaped value of member m.
func decodeValue(n *yaml.Node, m member) (any, error) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		if m.nullable {
			return nil, nil
		}
		return nil, errWrongKind
	}
	switch m.typ {
	case models.String:
		if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
			return n.Value, nil
		}
	case models.Integer:
		if n.Kind == yaml.ScalarNode && n.Tag == "!!int" {
			if i, err := strconv.ParseInt(n.Value, 0, 53); err == nil {
				return float64(i), nil
			}
		}
	case models.Boolean:
		var b bool
		if n.Kind == yaml.ScalarNode && n.Tag == "!!bool" && n.Decode(&b) == nil {
			return b, nil
		}
	case models.StringArray, models.ObjectArray:
		if n.Kind != yaml.SequenceNode {
			break
		}
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			c = resolve(c)
			if m.typ == models.StringArray && (c.Kind != yaml.ScalarNode || c.Tag != "!!str") ||
				m.typ == models.ObjectArray && c.Kind != yaml.MappingNode {
				return nil, errWrongKind
			}
			v, err := jsonValue(c)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case models.Object:
		if n.Kind == yaml.MappingNode {
			return jsonValue(n)
		}
	}
	return nil, errWrongKind
}

// jsonValue is the JSON value of any YAML node (numbers as float64).
func jsonValue(n *yaml.Node) (any, error) {
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, err
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, errWrongKind
	}
	var out any
	return out, json.Unmarshal(raw, &out)
}

// cloneJSON deep-copies a JSON-shaped value.
func cloneJSON(v any) any {
	switch v := v.(type) {
	case []any:
		out := make([]any, len(v))
		for i := range v {
			out[i] = cloneJSON(v[i])
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = cloneJSON(e)
		}
		return out
	}
	return v
}
