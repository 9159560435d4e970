// Command localauth runs the localauth demo server and administers its users
// and sessions.
//
//	localauth serve                      run the demo app on http://localhost:8000
//	localauth user create NAME           create a user (password from --password-stdin, else random)
//	localauth user list [--json]         list users
//	localauth session list [NAME]        list sessions
//	localauth migrate                    bring the database schema up to date
//
// Every command takes --db (default localauth.db, or $LOCALAUTH_DB). Run
// "localauth help" for the full list.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := &Main{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
	err := m.Run(ctx, os.Args[1:])
	if err == nil {
		return
	}
	// The library's own error texts start with "localauth: " too.
	fmt.Fprintln(os.Stderr, "localauth:", strings.TrimPrefix(err.Error(), "localauth: "))
	var u usageError
	if errors.As(err, &u) {
		os.Exit(2)
	}
	os.Exit(1)
}
