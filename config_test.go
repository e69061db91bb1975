package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
)

func TestRunHelpListsEverySettingOnStdout(t *testing.T) {
	for _, arg := range []string{"--help", "-h", "-help"} {
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), []string{arg}, func(string) string { return "" }, &stdout, &stderr); err != nil {
			t.Fatalf("%s: run = %v, want nil (exit 0)", arg, err)
		}
		if stderr.Len() != 0 {
			t.Errorf("%s: stderr = %q, want nothing", arg, stderr.String())
		}
		help := stdout.String()
		lines := strings.Split(help, "\n")
		// Every flag is on one line with its environment variable.
		var cfg config
		newFlagSet(&cfg).VisitAll(func(f *flag.Flag) {
			if !containsLine(lines, "--"+f.Name+" ", envName(f.Name)+" ") {
				t.Errorf("%s: no line names --%s with %s:\n%s", arg, f.Name, envName(f.Name), help)
			}
		})
		for _, e := range envOnly {
			if !strings.Contains(help, e.name) {
				t.Errorf("%s: %s missing:\n%s", arg, e.name, help)
			}
		}
		// Every variable of the README's Configuration section is in the help.
		readme, err := os.ReadFile("README.md")
		if err != nil {
			t.Fatal(err)
		}
		_, section, _ := strings.Cut(string(readme), "\n## Configuration\n")
		section, _, _ = strings.Cut(section, "\n## ")
		documented := regexp.MustCompile("`(CLIENTELE_[A-Z_]+)`").FindAllStringSubmatch(section, -1)
		if len(documented) == 0 {
			t.Fatal("README names no CLIENTELE_ variable")
		}
		for _, m := range documented {
			if !strings.Contains(help, m[1]) {
				t.Errorf("%s: README documents %s, --help does not", arg, m[1])
			}
		}
		for _, want := range []string{"--help", "--version"} {
			if !strings.Contains(help, want) {
				t.Errorf("%s: %s missing", arg, want)
			}
		}
	}
}

func containsLine(lines []string, parts ...string) bool {
	for _, l := range lines {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(l+" ", p)
		}
		if all {
			return true
		}
	}
	return false
}

// TestEveryFlagHasItsVariable sets each flag's environment variable alone
// and expects the configuration to change, and a flag to win over it.
func TestEveryFlagHasItsVariable(t *testing.T) {
	defaults, err := parseConfig(nil, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	var probe config
	newFlagSet(&probe).VisitAll(func(f *flag.Flag) {
		value := "from-environment"
		switch f.DefValue {
		case "true":
			value = "false"
		case "false":
			value = "true"
		}
		env := map[string]string{envName(f.Name): value}
		got, err := parseConfig(nil, func(k string) string { return env[k] })
		if err != nil {
			t.Errorf("%s=%s: %v", envName(f.Name), value, err)
			return
		}
		if reflect.DeepEqual(got, defaults) {
			t.Errorf("%s=%s changed nothing", envName(f.Name), value)
		}
		flagValue := "from-flag"
		switch f.DefValue {
		case "true":
			flagValue = "true"
		case "false":
			flagValue = "false"
		}
		byFlag, err := parseConfig([]string{"--" + f.Name + "=" + flagValue}, func(k string) string { return env[k] })
		if err != nil {
			t.Errorf("--%s with %s set: %v", f.Name, envName(f.Name), err)
			return
		}
		alone, _ := parseConfig([]string{"--" + f.Name + "=" + flagValue}, func(string) string { return "" })
		if !reflect.DeepEqual(byFlag, alone) {
			t.Errorf("--%s did not win over %s", f.Name, envName(f.Name))
		}
	})
	if _, err := parseConfig(nil, func(k string) string { return map[string]string{"CLIENTELE_METRICS": "maybe"}[k] }); err == nil || !strings.Contains(err.Error(), "CLIENTELE_METRICS") {
		t.Errorf("CLIENTELE_METRICS=maybe: %v", err)
	}
}

func TestRunVersionPrintsBuildInfo(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"--version"}, func(string) string { return "" }, &stdout, &stderr); err != nil {
		t.Fatalf("run = %v, want nil (exit 0)", err)
	}
	want := versionText(debug.ReadBuildInfo())
	if stdout.String() != want || !strings.HasPrefix(want, "clientele ") {
		t.Errorf("stdout = %q, want %q", stdout.String(), want)
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr = %q", stderr.String())
	}
}

func TestVersionText(t *testing.T) {
	main := debug.Module{Path: "github.com/clientele/clientele", Version: "v1.2.3"}
	tests := []struct {
		name string
		info *debug.BuildInfo
		ok   bool
		want string
	}{
		{"stamped", &debug.BuildInfo{GoVersion: "go1.26.8", Main: main, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.time", Value: "2026-11-22T23:00:00Z"}, {Key: "vcs.modified", Value: "false"}}},
			true, "clientele v1.2.3\nrevision 0123abcd (2026-11-22T23:00:00Z)\ngo1.26.8\n"},
		{"modified", &debug.BuildInfo{GoVersion: "go1.26.8", Main: main, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.modified", Value: "true"}}},
			true, "clientele v1.2.3\nrevision 0123abcd, with uncommitted changes\ngo1.26.8\n"},
		{"no VCS", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			true, "clientele (devel)\nrevision unknown (built without VCS information)\ngo1.26.8\n"},
		{"no build info", nil, false, "clientele: built without module information\n"},
	}
	for _, tt := range tests {
		if got := versionText(tt.info, tt.ok); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestVersionOfABuiltBinary builds Clientele as a user does in a git
// checkout and expects --version to name the checked-out revision. Go
// stamps the revision only where .git is a directory, not in a git
// worktree, whose .git is a file.
func TestVersionOfABuiltBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	if info, err := os.Stat(".git"); err != nil || !info.IsDir() {
		t.Skip("not a git clone (.git is not a directory here), so Go stamps no revision to check")
	}
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("git rev-parse HEAD: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "clientele")
	// The flag wins over a GOFLAGS=-buildvcs=false in the environment.
	if out, err := exec.Command("go", "build", "-buildvcs=true", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("--version: %v", err)
	}
	if want := "revision " + strings.TrimSpace(string(head)); !strings.Contains(string(out), want) {
		t.Errorf("--version printed %q, want it to contain %q", out, want)
	}
}
