package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/localauth/localauth"
)

// deviceListCmd is "device list [--user NAME] [NAME] [--json]".
type deviceListCmd struct{ m *Main }

// deviceRow is a trusted device as the list shows it: never its token,
// with the user's name and the label its User-Agent gives.
type deviceRow struct {
	ID         string    `json:"id"`
	Username   string    `json:"username"`
	Label      string    `json:"label"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	ExpiresAt  time.Time `json:"expires_at"`
}

func (c *deviceListCmd) Run(ctx context.Context, args []string) error {
	l := c.m.listFlags("device list", "list only the devices of the user with this `name` (or give the name as an argument)")
	if err := l.parse(args); err != nil {
		return err
	}
	e, u, err := l.open(ctx)
	if err != nil {
		return err
	}
	defer e.close()
	devices, err := e.svc.Devices(ctx, u.ID)
	if err != nil {
		return explain(err, "")
	}
	names, err := e.usernames(ctx)
	if err != nil {
		return err
	}
	rows := make([]deviceRow, 0, len(devices))
	for _, d := range devices {
		rows = append(rows, deviceRow{
			ID: d.PublicID, Username: names[d.UserID], Label: localauth.DeviceLabel(d.UserAgent),
			CreatedAt: d.CreatedAt, LastUsedAt: d.LastUsedAt, ExpiresAt: d.ExpiresAt,
		})
	}
	if *l.asJSON {
		return c.m.printJSON(rows)
	}
	w := tabwriter.NewWriter(c.m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tUSER\tDEVICE\tCREATED\tLAST USED\tEXPIRES")
	for _, r := range rows {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Username, r.Label, r.CreatedAt.Format(time.RFC3339),
			r.LastUsedAt.Format(time.RFC3339), r.ExpiresAt.Format(time.RFC3339))
	}
	return w.Flush()
}

// deviceForgetCmd is "device forget --id ID".
type deviceForgetCmd struct{ m *Main }

func (c *deviceForgetCmd) Run(ctx context.Context, args []string) error {
	fs, db := c.m.flagSet("device forget")
	id := fs.String("id", "", "the `id` of the device, as 'device list' prints it")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	if *id == "" {
		return usagef("device forget: give --id; usage: localauth %s", commands["device forget"].usage)
	}
	e, err := c.m.open(ctx, *db)
	if err != nil {
		return err
	}
	defer e.close()
	if err := e.svc.RevokeDevice(ctx, *id); err != nil {
		if errors.Is(err, localauth.ErrDeviceNotFound) {
			return fmt.Errorf("no device with id %q", *id)
		}
		return explain(err, "")
	}
	fmt.Fprintf(c.m.Stdout, "forgot device %s: it is trusted no more\n", *id)
	return nil
}
