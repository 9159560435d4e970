//go:build unix

package live

import "syscall"

// openFileLimit returns the process's limit on open files (RLIMIT_NOFILE,
// which the Go runtime raises to the hard limit at start), or 0 when it
// cannot be read.
func openFileLimit() int {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil || l.Cur > 1<<30 {
		return 0
	}
	return int(l.Cur)
}
