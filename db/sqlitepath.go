package db

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// sqliteOpenError words a failure to open the SQLite file at path. SQLite
// answers "unable to open database file: no such file or directory" for
// every way that opening fails, a directory the process may not write
// included, so the cause is found by trying what SQLite needs: a directory
// that exists and takes new files (the database, its -wal and -shm files),
// and an existing file that opens for reading and writing. When every one
// of those works, SQLite's own words are kept.
func sqliteOpenError(path string, err error) error {
	msg := oneLine(err)
	if problem := sqlitePathProblem(path); problem != nil {
		msg = problem.Error()
	}
	return fmt.Errorf("database sqlite://%s: %s", path, msg)
}

// sqlitePathProblem returns why the process cannot use path as a SQLite
// database, or nil when it finds no reason. It leaves nothing behind.
func sqlitePathProblem(path string) error {
	dir := filepath.Dir(path)
	info, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("directory %s does not exist", dir)
	case err != nil:
		return fmt.Errorf("directory %s: %v", dir, cause(err))
	case !info.IsDir():
		return fmt.Errorf("%s is not a directory", dir)
	}
	probe, err := os.CreateTemp(dir, ".clientele-probe-*")
	if err != nil {
		return fmt.Errorf("cannot create files in directory %s: %v", dir, cause(err))
	}
	probe.Close()
	os.Remove(probe.Name())
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cannot open %s for reading and writing: %v", path, cause(err))
	}
	if f != nil {
		f.Close()
	}
	return nil
}

// cause is the operating system's reason inside a path error, such as
// "permission denied", without the path it already names.
func cause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
