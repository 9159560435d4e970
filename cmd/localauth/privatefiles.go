package main

import (
	"fmt"
	"io"
	"slices"

	"github.com/localauth/localauth/sqlitestore"
)

// warnPermissive warns on w when the SQLite database db, or its -wal or
// -shm file, can be read by users other than its owner: the file holds
// password hashes, which a copy lets anyone attack offline. New files are
// created private; this catches those an older version or another tool
// left readable.
func warnPermissive(w io.Writer, db string) {
	if isPostgres(db) {
		return
	}
	files := sqlitestore.PermissiveFiles(db)
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		fmt.Fprintf(w, "WARNING: %s can be read by other users (mode %04o). It holds password hashes; make it private: chmod 600 %s\n", p, files[p], p)
	}
}
