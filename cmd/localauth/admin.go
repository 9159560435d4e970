package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/localauth/localauth"
)

// userCreateCmd is "user create NAME [--password-stdin]".
type userCreateCmd struct{ m *Main }

func (c *userCreateCmd) Run(ctx context.Context, args []string) error {
	fs, db := c.m.flagSet("user create")
	fromStdin := fs.Bool("password-stdin", false, "read the password from standard input")
	pos, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	name := pos[0]
	password, generated, err := c.m.password(*fromStdin)
	if err != nil {
		return err
	}
	e, err := c.m.open(ctx, *db)
	if err != nil {
		return err
	}
	defer e.close()
	u, err := e.svc.Register(ctx, name, password)
	if err != nil {
		return explain(err, name)
	}
	fmt.Fprintf(c.m.Stdout, "created user %s (id %d)\n", u.DisplayName, u.ID)
	if generated {
		fmt.Fprintf(c.m.Stdout, "password: %s\n(shown once: store it now)\n", password)
	}
	return nil
}

// password returns the password from standard input, or a new random one.
func (m *Main) password(fromStdin bool) (pw string, generated bool, err error) {
	if fromStdin {
		pw, err = m.readPassword()
		return pw, false, err
	}
	// 128 bits in 26 base32 characters.
	return rand.Text(), true, nil
}

// userListCmd is "user list [--json]".
type userListCmd struct{ m *Main }

func (c *userListCmd) Run(ctx context.Context, args []string) error {
	fs, db := c.m.flagSet("user list")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	e, err := c.m.open(ctx, *db)
	if err != nil {
		return err
	}
	defer e.close()
	users, err := e.svc.Users(ctx)
	if err != nil {
		return explain(err, "")
	}
	if *asJSON {
		if users == nil {
			users = []localauth.User{}
		}
		enc := json.NewEncoder(c.m.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(users)
	}
	w := tabwriter.NewWriter(c.m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tUSERNAME\tDISPLAY NAME\tENABLED\tCREATED")
	for _, u := range users {
		fmt.Fprintf(w, "%d\t%s\t%s\t%v\t%s\n", u.ID, u.Username, u.DisplayName, u.Enabled, u.CreatedAt.Format(time.RFC3339))
	}
	return w.Flush()
}

// userStateCmd is "user disable|enable|delete NAME".
type userStateCmd struct {
	m    *Main
	verb string
}

func (c *userStateCmd) Run(ctx context.Context, args []string) error {
	fs, db := c.m.flagSet("user " + c.verb)
	pos, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	e, u, err := c.m.openUser(ctx, *db, pos[0])
	if err != nil {
		return err
	}
	defer e.close()
	switch c.verb {
	case "disable":
		err = e.svc.DisableUser(ctx, u.ID)
	case "enable":
		err = e.svc.EnableUser(ctx, u.ID)
	case "delete":
		err = e.svc.DeleteUser(ctx, u.ID)
	}
	if err != nil {
		return explain(err, pos[0])
	}
	fmt.Fprintf(c.m.Stdout, "%sd user %s\n", c.verb, u.Username)
	return nil
}

// userSetPasswordCmd is "user set-password NAME [--password-stdin]".
type userSetPasswordCmd struct{ m *Main }

func (c *userSetPasswordCmd) Run(ctx context.Context, args []string) error {
	fs, db := c.m.flagSet("user set-password")
	fromStdin := fs.Bool("password-stdin", false, "read the password from standard input")
	pos, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	password, generated, err := c.m.password(*fromStdin)
	if err != nil {
		return err
	}
	e, u, err := c.m.openUser(ctx, *db, pos[0])
	if err != nil {
		return err
	}
	defer e.close()
	if err := e.svc.SetPassword(ctx, u.ID, password); err != nil {
		return explain(err, pos[0])
	}
	fmt.Fprintf(c.m.Stdout, "set the password of %s; its sessions have ended\n", u.Username)
	if generated {
		fmt.Fprintf(c.m.Stdout, "password: %s\n(shown once: store it now)\n", password)
	}
	return nil
}

// sessionListCmd is "session list [NAME] [--json]".
type sessionListCmd struct{ m *Main }

type sessionRow struct {
	localauth.Session
	Username string `json:"username"`
	ID       string `json:"session"`
}

func (c *sessionListCmd) Run(ctx context.Context, args []string) error {
	fs, db := c.m.flagSet("session list")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args, 0, 1)
	if err != nil {
		return err
	}
	e, err := c.m.open(ctx, *db)
	if err != nil {
		return err
	}
	defer e.close()
	var userID int64
	if len(pos) == 1 {
		u, err := e.userByName(ctx, pos[0])
		if err != nil {
			return explain(err, pos[0])
		}
		userID = u.ID
	}
	sessions, err := e.svc.Sessions(ctx, userID)
	if err != nil {
		return explain(err, "")
	}
	users, err := e.svc.Users(ctx)
	if err != nil {
		return explain(err, "")
	}
	names := make(map[int64]string, len(users))
	for _, u := range users {
		names[u.ID] = u.Username
	}
	rows := make([]sessionRow, 0, len(sessions))
	for _, s := range sessions {
		rows = append(rows, sessionRow{Session: s, Username: names[s.UserID], ID: s.TokenHash.String()})
	}
	if *asJSON {
		enc := json.NewEncoder(c.m.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	w := tabwriter.NewWriter(c.m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "SESSION\tUSER\tCREATED\tLAST SEEN\tEXPIRES")
	for _, r := range rows {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", r.ID, r.Username, r.CreatedAt.Format(time.RFC3339),
			r.LastSeenAt.Format(time.RFC3339), r.ExpiresAt.Format(time.RFC3339))
	}
	return w.Flush()
}

// sessionRevokeCmd is "session revoke NAME".
type sessionRevokeCmd struct{ m *Main }

func (c *sessionRevokeCmd) Run(ctx context.Context, args []string) error {
	fs, db := c.m.flagSet("session revoke")
	pos, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	e, u, err := c.m.openUser(ctx, *db, pos[0])
	if err != nil {
		return err
	}
	defer e.close()
	n, err := e.svc.RevokeSessions(ctx, u.ID)
	if err != nil {
		return explain(err, pos[0])
	}
	fmt.Fprintf(c.m.Stdout, "ended %d session(s) of %s\n", n, u.Username)
	return nil
}

// migrateCmd is "migrate".
type migrateCmd struct{ m *Main }

func (c *migrateCmd) Run(ctx context.Context, args []string) error {
	fs, db := c.m.flagSet("migrate")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	st, closeStore, err := openStore(ctx, *db)
	if err != nil {
		return err
	}
	defer closeStore()
	v, ok := st.(interface {
		SchemaVersion(context.Context) (int64, int64, error)
	})
	if !ok {
		fmt.Fprintln(c.m.Stdout, "schema is up to date")
		return nil
	}
	cur, latest, err := v.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.m.Stdout, "schema at version %d (latest %d)\n", cur, latest)
	return nil
}

// versionCmd is "version".
type versionCmd struct{ m *Main }

func (c *versionCmd) Run(ctx context.Context, args []string) error {
	fs, _ := c.m.flagSet("version")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	fmt.Fprintf(c.m.Stdout, "localauth %s (%s)\n", version(), runtime.Version())
	return nil
}

// version is the module version the binary was built from, or "devel".
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// helpCmd is "help [COMMAND]".
type helpCmd struct{ m *Main }

func (c *helpCmd) Run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		c.m.printHelp(c.m.Stdout)
		return nil
	}
	name := strings.Join(args, " ")
	info, ok := commands[name]
	if !ok {
		return usagef("unknown command %q; see 'localauth help'", name)
	}
	fmt.Fprintf(c.m.Stdout, "usage: localauth %s\n\n%s.\n", info.usage, info.summary)
	return nil
}
