//go:build !unix

package live

// openFileLimit returns 0: the platform has no RLIMIT_NOFILE to read.
func openFileLimit() int { return 0 }
