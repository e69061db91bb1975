package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"

	"github.com/spf13/cobra"
	yaml "go.yaml.in/yaml/v3"
)

func newExportCmd(o *options) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "export [-f clients.yaml]",
		Short: "Write every client as a clients file for apply (no secrets)",
		Long: `Write every client on the server, with its id and every member apply can
set, as YAML: to -f FILE, or to standard output. Secrets are write-only
and never exported. Applying the file unchanged is a no-op.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			a, err := o.connect(c.Context())
			if err != nil {
				return err
			}
			clients, err := a.listAll(c.Context())
			if err != nil {
				return err
			}
			out, err := encodeClients(clients)
			if err != nil {
				return err
			}
			if file == "" || file == "-" {
				_, err = c.OutOrStdout().Write(out)
				return err
			}
			if err := os.WriteFile(file, out, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(c.ErrOrStderr(), "exported %d clients to %s\n", len(clients), file)
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "write to this file instead of standard output")
	return cmd
}

// listAll returns every client on the server, reduced to its settable
// members. Offset paging while others write may show a client twice; it
// is kept once.
func (a *api) listAll(ctx context.Context) ([]serverClient, error) {
	raw, err := a.list(ctx, "", "", 0)
	if err != nil {
		return nil, err
	}
	out := make([]serverClient, 0, len(raw))
	seen := make(map[string]bool, len(raw))
	for i := range raw {
		c, err := decodeServerClient(raw[i])
		if err != nil {
			return nil, err
		}
		if !seen[c.id] {
			seen[c.id] = true
			out = append(out, c)
		}
	}
	return out, nil
}

// serverClient is a client as the server shows it, reduced to its id and
// settable members.
type serverClient struct {
	id     string
	values map[string]any
}

func (c *serverClient) name() string { s, _ := c.values["name"].(string); return s }

// decodeServerClient reads a client's JSON.
func decodeServerClient(raw []byte) (serverClient, error) {
	var all map[string]any
	if err := json.Unmarshal(raw, &all); err != nil {
		return serverClient{}, fmt.Errorf("reading a client: %w", err)
	}
	c := serverClient{values: make(map[string]any, len(settable))}
	c.id, _ = all["id"].(string)
	for _, m := range settable {
		c.values[m.name] = all[m.name]
	}
	return c, nil
}

// encodeClients writes clients as a clients file, in settable's order, ids
// first, with a comment that says what the file is.
func encodeClients(clients []serverClient) ([]byte, error) {
	seq := &yaml.Node{Kind: yaml.SequenceNode}
	for i := range clients {
		c := &clients[i]
		m := &yaml.Node{Kind: yaml.MappingNode}
		m.Content = append(m.Content, str("id"), str(c.id))
		for _, mem := range settable {
			v, err := valueNode(c.values[mem.name])
			if err != nil {
				return nil, fmt.Errorf("client %s, %s: %w", c.id, mem.name, err)
			}
			m.Content = append(m.Content, str(mem.name), v)
		}
		seq.Content = append(seq.Content, m)
	}
	root := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{str("clients"), seq}}
	doc := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root},
		HeadComment: "Clientele clients: edit, then `clientele apply -f` this file. A client without id is created;\n" +
			"on later applies it is matched by its name. Secrets are never written here."}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func str(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

// valueNode is the YAML of a JSON-shaped value; lists are written inline.
func valueNode(v any) (*yaml.Node, error) {
	switch v := v.(type) {
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}, nil
	case string:
		return str(v), nil
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(v)}, nil
	case float64:
		if v != float64(int64(v)) {
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: strconv.FormatFloat(v, 'g', -1, 64)}, nil
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(int64(v), 10)}, nil
	case []any:
		// A list of scalars fits on its line; a list of objects does not.
		n := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for _, e := range v {
			c, err := valueNode(e)
			if err != nil {
				return nil, err
			}
			if c.Kind != yaml.ScalarNode {
				n.Style = 0
			}
			n.Content = append(n.Content, c)
		}
		return n, nil
	case map[string]any:
		n := &yaml.Node{Kind: yaml.MappingNode}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			c, err := valueNode(v[k])
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, str(k), c)
		}
		return n, nil
	}
	return nil, fmt.Errorf("unexpected %T", v)
}
