package sqlitestore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// createPrivate creates the database file, and its directory when that is
// missing but its parent exists, for the owner alone (0600, the directory
// 0700), whatever the umask: the file holds password hashes. SQLite creates
// the -wal and -shm files with the permissions of the database file, so
// they are private too. An existing file or directory is left as it is (see
// PermissiveFiles). A path under several missing directories is more likely
// a mistake than a wish, and is refused.
func createPrivate(path string) error {
	err := os.Mkdir(filepath.Dir(path), 0o700)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("sqlitestore: creating the database's directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case errors.Is(err, fs.ErrExist):
		return nil
	case err != nil:
		return fmt.Errorf("sqlitestore: creating %s: %w", path, err)
	}
	return f.Close()
}

// PermissiveFiles returns those of the database file at path and its -wal
// and -shm files that users other than the owner may read (group or world
// read permission), with their modes, for a warning at start-up: a copy of
// them lets anyone attack the password hashes offline.
func PermissiveFiles(path string) map[string]fs.FileMode {
	out := make(map[string]fs.FileMode)
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err == nil && fi.Mode().Perm()&0o044 != 0 {
			out[p] = fi.Mode().Perm()
		}
	}
	return out
}
