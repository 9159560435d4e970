package main

import "context"

// serveCmd is "serve": the demo app.
type serveCmd struct{ m *Main }

func (c *serveCmd) Run(ctx context.Context, args []string) error {
	return usagef("serve is not built yet")
}
