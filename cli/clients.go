package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/clientele/clientele/sdk/clientele"
)

// newClientsCmd is `clientele clients`: one API call per subcommand.
func newClientsCmd(o *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "clients",
		Short: "List, show, create, patch, delete OAuth clients and rotate their secrets",
		Long: `One API call per subcommand. -o table (the default) prints a row per client;
-o json prints the server's JSON. A refused call prints the error's
detailCode, causes and trackingId and exits with status 1.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return c.Help() },
	}
	var output string
	cmd.PersistentFlags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	cmd.PersistentPreRunE = func(*cobra.Command, []string) error {
		if output != "table" && output != "json" {
			return fmt.Errorf("-o %q: want table or json", output)
		}
		return nil
	}
	out := func(c *cobra.Command, body []byte, list bool) error {
		return printClients(c.OutOrStdout(), output, body, list)
	}

	var filters, sorters string
	var limit int
	list := &cobra.Command{
		Use:   "list",
		Short: "List clients (every page, or --limit of them)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			a, err := o.connect(c.Context())
			if err != nil {
				return err
			}
			if limit < 0 {
				return fmt.Errorf("--limit %d: want 0 (all) or more", limit)
			}
			clients, err := a.list(c.Context(), filters, sorters, limit)
			if err != nil {
				return err
			}
			if clients == nil {
				clients = []json.RawMessage{}
			}
			body, err := json.Marshal(clients)
			if err != nil {
				return err
			}
			return out(c, body, true)
		},
	}
	list.Flags().StringVar(&filters, "filters", "", `SailPoint filters, e.g. 'name sw "acme" and enabled eq true'`)
	list.Flags().StringVar(&sorters, "sorters", "", "comma-separated sort keys of id name created modified lastUsed, - for descending")
	list.Flags().IntVar(&limit, "limit", 0, "the most clients to print; 0 prints all")

	get := &cobra.Command{
		Use:   "get ID",
		Short: "Show one client",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			a, err := o.connect(c.Context())
			if err != nil {
				return err
			}
			body, _, err := a.get(c.Context(), args[0])
			if err != nil {
				return err
			}
			return out(c, body, false)
		},
	}

	var file string
	var fields createFields
	create := &cobra.Command{
		Use:   "create [-f BODY.json] [--name NAME --grant-type TYPE …]",
		Short: "Create a client; its secret is printed this once",
		Long: `Create a client from a JSON create body (-f FILE, - for standard input),
from flags, or both (flags win). The answer carries the client's secret,
shown only now.`,
		Example: `  clientele clients create --name "Acme CI" --grant-type CLIENT_CREDENTIALS --scope sp:oauth-client:read
  clientele clients create -f acme.json -o json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			body, err := fields.body(c, file, o.env.Stdin)
			if err != nil {
				return err
			}
			a, err := o.connect(c.Context())
			if err != nil {
				return err
			}
			created, err := a.create(c.Context(), body)
			if err != nil {
				return err
			}
			return out(c, created, false)
		},
	}
	create.Flags().StringVarP(&file, "file", "f", "", "a JSON create body; - reads standard input")
	fields.register(create)

	var patchFile, ifMatch string
	patch := &cobra.Command{
		Use:   "patch ID [-f PATCH.json]",
		Short: "Apply an RFC 6902 JSON Patch to a client",
		Long: `Send an RFC 6902 JSON Patch, read from -f FILE or from standard input, as
application/json-patch+json. --if-match makes it conditional on an ETag
from "clients get -o json"'s call (412 when the client has changed).`,
		Example: `  echo '[{"op":"replace","path":"/enabled","value":false}]' | clientele clients patch 0190f1a2…`,
		Args:    cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			ops, err := readInput(patchFile, o.env.Stdin, "the patch")
			if err != nil {
				return err
			}
			a, err := o.connect(c.Context())
			if err != nil {
				return err
			}
			body, err := a.patch(c.Context(), args[0], ops, ifMatch)
			if err != nil {
				return err
			}
			return out(c, body, false)
		},
	}
	patch.Flags().StringVarP(&patchFile, "file", "f", "-", "the RFC 6902 patch; - reads standard input")

	del := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a client; its tokens stop working",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			a, err := o.connect(c.Context())
			if err != nil {
				return err
			}
			if err := a.delete(c.Context(), args[0], ifMatch); err != nil {
				return err
			}
			if output == "table" {
				fmt.Fprintf(c.OutOrStdout(), "deleted %s\n", args[0])
			}
			return nil
		},
	}

	var grace int
	rotate := &cobra.Command{
		Use:   "rotate ID",
		Short: "Replace a client's secret; the new one is printed this once",
		Long: "Replace a client's secret; the new one is printed this once. Without --grace the old secrets\n" +
			"and every token of the client end at once; with --grace N they keep working N more seconds.",
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			a, err := o.connect(c.Context())
			if err != nil {
				return err
			}
			body, err := a.rotate(c.Context(), args[0], ifMatch, grace)
			if err != nil {
				return err
			}
			return out(c, body, false)
		},
	}
	rotate.Flags().IntVar(&grace, "grace", 0, "keep the old secrets, and their tokens, working this many `seconds` (1-604800)")
	for _, c := range []*cobra.Command{patch, del, rotate} {
		c.Flags().StringVar(&ifMatch, "if-match", "", "only if the client's ETag is this one (or *)")
	}
	cmd.AddCommand(list, get, create, patch, del, rotate)
	return cmd
}

// createFields are the create body's members settable by flag.
type createFields struct {
	name, description, tenant, typ  string
	grantTypes, redirectURIs, scope []string
}

func (f *createFields) register(c *cobra.Command) {
	fl := c.Flags()
	fl.StringVar(&f.name, "name", "", "name")
	fl.StringVar(&f.description, "description", "", "description")
	fl.StringVar(&f.tenant, "tenant", "", "tenant")
	fl.StringVar(&f.typ, "type", "", "CONFIDENTIAL (default) or PUBLIC")
	fl.StringSliceVar(&f.grantTypes, "grant-type", nil, "grant types (repeat or comma-separate): CLIENT_CREDENTIALS, AUTHORIZATION_CODE, REFRESH_TOKEN")
	fl.StringSliceVar(&f.redirectURIs, "redirect-uri", nil, "redirect URIs (repeat or comma-separate)")
	fl.StringSliceVar(&f.scope, "scope", nil, "scopes (repeat or comma-separate)")
}

// body is the create body: file's object (if any) with the flags that were
// given laid over it. The server validates it and names what is wrong.
func (f *createFields) body(c *cobra.Command, file string, stdin io.Reader) ([]byte, error) {
	obj := map[string]any{}
	if file != "" {
		raw, err := readInput(file, stdin, "the create body")
		if err != nil {
			return nil, err
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&obj); err != nil {
			return nil, fmt.Errorf("%s: not a JSON object: %w", file, err)
		}
	}
	set := func(flag, member string, v any) {
		if c.Flags().Changed(flag) {
			obj[member] = v
		}
	}
	set("name", "name", f.name)
	set("description", "description", f.description)
	set("tenant", "tenant", f.tenant)
	set("type", "type", f.typ)
	set("grant-type", "grantTypes", f.grantTypes)
	set("redirect-uri", "redirectUris", f.redirectURIs)
	set("scope", "scope", f.scope)
	if len(obj) == 0 {
		return nil, errors.New("nothing to create: give -f BODY.json or at least --name and --grant-type")
	}
	return json.Marshal(obj)
}

// readInput reads file, or stdin when file is "-".
func readInput(file string, stdin io.Reader, what string) ([]byte, error) {
	if file == "-" {
		if f, ok := stdin.(*os.File); ok && isTerminal(f) {
			return nil, fmt.Errorf("%s: give -f FILE or pipe it to standard input", what)
		}
		return io.ReadAll(stdin)
	}
	return os.ReadFile(file)
}

// printClients prints a client (list false) or a JSON array of them.
func printClients(w io.Writer, format string, body []byte, list bool) error {
	if format == "json" {
		var buf bytes.Buffer
		if err := json.Indent(&buf, body, "", "  "); err != nil {
			return err
		}
		buf.WriteByte('\n')
		_, err := w.Write(buf.Bytes())
		return err
	}
	var clients []clientele.OAuthClientWithSecret
	if list {
		if err := json.Unmarshal(body, &clients); err != nil {
			return err
		}
	} else {
		clients = make([]clientele.OAuthClientWithSecret, 1)
		if err := json.Unmarshal(body, &clients[0]); err != nil {
			return err
		}
	}
	withSecret := !list && bytes.Contains(body, []byte(`"secret"`))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	head := "ID\tNAME\tTYPE\tENABLED\tGRANT TYPES\tTENANT"
	if withSecret {
		head += "\tSECRET"
	}
	fmt.Fprintln(tw, head)
	for _, c := range clients {
		grants := make([]string, len(c.GrantTypes))
		for i, g := range c.GrantTypes {
			grants[i] = string(g)
		}
		row := fmt.Sprintf("%s\t%s\t%s\t%t\t%s\t%s", c.Id, oneLine(c.Name), c.Type, c.Enabled, strings.Join(grants, ","), oneLine(deref(c.Tenant)))
		if withSecret {
			row += "\t" + deref(c.Secret)
		}
		fmt.Fprintln(tw, row)
	}
	return tw.Flush()
}

func deref(s *string) string {
	if s == nil {
		return "-"
	}
	return *s
}

// oneLine keeps a table cell on its line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
