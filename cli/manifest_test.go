package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/clientele/clientele/models"
)

// TestSettable: apply sets exactly the members a create body may hold,
// patches only the patchable ones, and knows which the file must give.
func TestSettable(t *testing.T) {
	for _, m := range models.PatchableMembers() {
		if s, ok := settableMember(m.Name); !ok || !s.patchable {
			t.Errorf("patchable member %q is not patchable by apply", m.Name)
		}
	}
	for _, name := range []string{"type", "internal", "scope"} {
		if m, ok := settableMember(name); !ok || m.patchable {
			t.Errorf("%q: want settable at creation only", name)
		}
	}
	for _, name := range []string{"id", "created", "modified", "lastUsed", "secret"} {
		if _, ok := settableMember(name); ok {
			t.Errorf("%q is settable", name)
		}
	}
	if settable[0].name != "name" || !settable[0].required {
		t.Errorf("first member %+v", settable[0])
	}
	if m, _ := settableMember("accessTokenValiditySeconds"); m.def != float64(models.DefaultAccessTokenValiditySeconds) {
		t.Errorf("default %v", m.def)
	}
}

func TestParseClientsNamesFileAndLine(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"bad indentation", "clients:\n  - name: a\n   grantTypes: [X]\n", "c.yaml:3:4: value is not allowed in this context"},
		{"unclosed list", "clients:\n  - name: a\n    grantTypes: [X\n  - name: b\n", "c.yaml:4:3: ',' or ']' must be specified"},
		{"unclosed quote", "clients:\n  - name: \"a\n", "c.yaml:2:11: could not find end character of double-quoted text"},
		{"tab", "clients:\n\t- name: a\n", "c.yaml:2:1: found character '\t' that cannot start any token"},
		{"unknown member", "clients:\n  - name: a\n    grantTypes: [CLIENT_CREDENTIALS]\n    colour: blue\n", `c.yaml:4: clients[0]: unknown member "colour"`},
		{"secret", "clients:\n  - name: a\n    grantTypes: [CLIENT_CREDENTIALS]\n    secret: x\n", `c.yaml:4: clients[0]: unknown member "secret": secrets are write-only`},
		{"wrong type bool", "clients:\n  - name: a\n    grantTypes: [CLIENT_CREDENTIALS]\n    enabled: \"no\"\n", `c.yaml:4: clients[0].enabled: want a boolean, got "no"`},
		{"wrong type int", "clients:\n  - name: a\n    grantTypes: [CLIENT_CREDENTIALS]\n    accessTokenValiditySeconds: 1.5\n", `c.yaml:4: clients[0].accessTokenValiditySeconds: want an integer, got float 1.5`},
		{"wrong type name", "clients:\n  - name: 12\n    grantTypes: [CLIENT_CREDENTIALS]\n", `c.yaml:2: clients[0].name: want a string, got int 12`},
		{"wrong type list", "clients:\n  - name: a\n    grantTypes: CLIENT_CREDENTIALS\n", `c.yaml:3: clients[0].grantTypes: want an array of strings, got "CLIENT_CREDENTIALS"`},
		{"list of mappings", "clients:\n  - name: a\n    grantTypes:\n      - {x: 1}\n", `c.yaml:4: clients[0].grantTypes: want an array of strings, got a list`},
		{"missing name", "clients:\n  - grantTypes: [CLIENT_CREDENTIALS]\n", `c.yaml:2: clients[0]: "name" is required`},
		{"member twice", "clients:\n  - name: a\n    name: b\n    grantTypes: [CLIENT_CREDENTIALS]\n", `c.yaml:3: clients[0].name: given twice`},
		{"same id", "clients:\n  - id: x\n    name: a\n    grantTypes: [CLIENT_CREDENTIALS]\n  - id: x\n    name: b\n    grantTypes: [CLIENT_CREDENTIALS]\n", `c.yaml:5: clients[1]: id x is also the client at line 2`},
		{"same new name", "clients:\n  - name: a\n    grantTypes: [CLIENT_CREDENTIALS]\n  - name: a\n    grantTypes: [CLIENT_CREDENTIALS]\n", `c.yaml:4: clients[1]: another client without id, at line 2, has the name "a"`},
		{"not a mapping", "- a\n", `c.yaml:1: want a mapping with "clients", got a list`},
		{"unknown top", "clients: []\nmore: 1\n", `c.yaml:2: unknown member "more"`},
		{"clients not a list", "clients: 3\n", `c.yaml:1: clients: want a list, got int 3`},
		{"empty", "", `c.yaml:1: empty file`},
		{"client not a mapping", "clients:\n  - 3\n", `c.yaml:2: clients[0]: want a mapping of members, got int 3`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entries, err := parseClients("c.yaml", []byte(tt.yaml))
			if err == nil || entries != nil {
				t.Fatalf("parsed: %v", entries)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q\nwant it to contain %q", err, tt.want)
			}
		})
	}
}

func TestParseClientsDefaults(t *testing.T) {
	entries, err := parseClients("c.yaml", []byte("clients:\n- name: a\n  grantTypes: [CLIENT_CREDENTIALS]\n  description: null\n  tenant: '123'\n- id: x\n  name: b\n  grantTypes: [CLIENT_CREDENTIALS]\n  enabled: false\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 || entries[0].id != "" || entries[1].id != "x" || entries[1].line != 6 {
		t.Fatalf("entries %+v", entries)
	}
	a := entries[0].values
	if a["tenant"] != "123" || a["description"] != nil || a["enabled"] != true || a["accessTokenValiditySeconds"] != 3600.0 {
		t.Errorf("values %v", a)
	}
	if entries[1].values["enabled"] != false || entries[1].lineOf("enabled") != 9 || entries[1].lineOf("tenant") != 6 {
		t.Errorf("second %+v", entries[1])
	}
}

// TestExportParsesBack: what export writes, parse reads to the same values,
// however odd the strings.
func TestExportParsesBack(t *testing.T) {
	odd := []string{"true", "123", "null", "- x", "a: b", "#c", "'q'", "\"dq\"", "multi\nline", " padded ", "ünï", "~", "0x1F", "1e3", "yes"}
	var clients []serverClient
	for i, s := range odd {
		c := serverClient{id: "id" + s, values: map[string]any{}}
		for _, m := range settable {
			c.values[m.name] = cloneJSON(m.def)
		}
		c.values["name"] = s
		c.values["tenant"] = s
		c.values["grantTypes"] = []any{"CLIENT_CREDENTIALS"}
		c.values["redirectUris"] = []any{s, "https://x.example/" + s}
		c.values["accessTokenValiditySeconds"] = float64(60 + i)
		clients = append(clients, c)
	}
	out, err := encodeClients(clients)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := parseClients("export.yaml", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for i := range clients {
		if entries[i].id != clients[i].id {
			t.Errorf("id %q, want %q", entries[i].id, clients[i].id)
		}
		if ops, imm := diff(clients[i].values, entries[i].values); len(ops)+len(imm) > 0 {
			t.Errorf("client %q round trip differs: %v %v", clients[i].id, ops, imm)
		}
	}
}

func TestDiff(t *testing.T) {
	base := func() map[string]any {
		v := map[string]any{}
		for _, m := range settable {
			v[m.name] = cloneJSON(m.def)
		}
		v["name"] = "a"
		v["grantTypes"] = []any{"CLIENT_CREDENTIALS"}
		v["redirectUris"] = []any{"https://a", "https://b", "https://c"}
		return v
	}
	tests := []struct {
		name string
		edit func(map[string]any)
		want string
	}{
		{"nothing", func(map[string]any) {}, `[]`},
		{"scalar", func(v map[string]any) { v["enabled"] = false; v["description"] = "d" },
			`[{"op":"replace","path":"/description","value":"d"},{"op":"replace","path":"/enabled","value":false}]`},
		{"to null", func(v map[string]any) { v["tenant"] = nil }, `[]`},
		{"append", func(v map[string]any) { v["redirectUris"] = []any{"https://a", "https://b", "https://c", "https://d"} },
			`[{"op":"add","path":"/redirectUris/-","value":"https://d"}]`},
		{"remove two", func(v map[string]any) { v["redirectUris"] = []any{"https://b"} },
			`[{"op":"remove","path":"/redirectUris/2"},{"op":"remove","path":"/redirectUris/0"}]`},
		{"change one", func(v map[string]any) { v["redirectUris"] = []any{"https://a", "https://x", "https://c"} },
			`[{"op":"replace","path":"/redirectUris","value":["https://a","https://x","https://c"]}]`},
		{"reorder", func(v map[string]any) { v["redirectUris"] = []any{"https://c", "https://b", "https://a"} },
			`[{"op":"replace","path":"/redirectUris","value":["https://c","https://b","https://a"]}]`},
		{"int", func(v map[string]any) { v["accessTokenValiditySeconds"] = 600.0 },
			`[{"op":"replace","path":"/accessTokenValiditySeconds","value":600}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := base()
			tt.edit(want)
			ops, imm := diff(base(), want)
			if len(imm) > 0 {
				t.Fatalf("immutable %v", imm)
			}
			if ops == nil {
				ops = []operation{}
			}
			got, _ := json.Marshal(ops)
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
	cur := base()
	cur["tenant"] = "t"
	want := base()
	if ops, _ := diff(cur, want); len(ops) != 1 || string(ops[0].Value) != "null" {
		t.Errorf("to null: %+v", ops)
	}
	want["scope"] = []any{"sp:oauth-client:read"}
	want["type"] = "PUBLIC"
	if _, imm := diff(base(), want); strings.Join(imm, ",") != "type,scope" {
		t.Errorf("immutable %v", imm)
	}
}

func TestBatchKeepsTheBulkLimits(t *testing.T) {
	bodies := make([][]byte, 2500)
	for i := range bodies {
		bodies[i] = []byte(`{}`)
	}
	if got := batch(bodies, 1000, 1<<20); len(got) != 3 || got[0] != [2]int{0, 1000} || got[2] != [2]int{2000, 2500} {
		t.Errorf("by count: %v", got)
	}
	big := [][]byte{make([]byte, 600), make([]byte, 600), make([]byte, 2000), make([]byte, 10)}
	if got := batch(big, 1000, 1500); len(got) != 3 || got[0] != [2]int{0, 2} || got[1] != [2]int{2, 3} || got[2] != [2]int{3, 4} {
		t.Errorf("by bytes: %v", got)
	}
	if got := batch(nil, 1000, 1500); len(got) != 0 {
		t.Errorf("none: %v", got)
	}
}
