package db

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSQLitePathProblem(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ path, want string }{
		{filepath.Join(dir, "c.db"), ""},
		{filepath.Join(dir, "absent", "c.db"), "absent does not exist"},
		{filepath.Join(file, "c.db"), "is not a directory"},
	}
	for _, tt := range tests {
		err := sqlitePathProblem(tt.path)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v, want none", tt.path, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: %v, want %q", tt.path, err, tt.want)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("the probe left files behind: %v", entries)
	}
	// A permission error is shown through an unprivileged process in
	// package main's TestUnwritableSQLiteDirectory: root passes every
	// permission check, so only a non-root run can check it here.
	if os.Geteuid() == 0 {
		return
	}
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o755)
	if err := sqlitePathProblem(filepath.Join(dir, "c.db")); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("read-only directory: %v, want permission denied", err)
	}
}
