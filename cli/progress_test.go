package cli

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"
)

// TestProgressOnlyOnTerminal: a bar is drawn where a person watches, and
// nothing at all goes to a pipe or a file.
func TestProgressOnlyOnTerminal(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if isTerminal(w) || isTerminal(&bytes.Buffer{}) {
		t.Error("a pipe or a buffer taken for a terminal")
	}

	var piped bytes.Buffer
	o := &options{progress: isTerminal}
	step := o.bar(&piped, 3, "applying")
	step()
	step()
	step()
	if piped.Len() != 0 {
		t.Errorf("progress written to a pipe: %q", piped.String())
	}

	var tty bytes.Buffer
	o = &options{progress: func(io.Writer) bool { return true }}
	step = o.bar(&tty, 3, "applying")
	step()
	if !strings.Contains(tty.String(), "applying") || !strings.Contains(tty.String(), "1/3") {
		t.Errorf("no bar on a terminal: %q", tty.String())
	}
}
