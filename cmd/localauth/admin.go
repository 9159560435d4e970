package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strconv"
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
	e, err := c.m.openEnv(ctx, *db, true)
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

// readPassword reads one line from standard input.
func (m *Main) readPassword() (string, error) {
	const limit = 64 << 10
	b, err := io.ReadAll(io.LimitReader(m.Stdin, limit+1))
	if err != nil {
		return "", fmt.Errorf("reading the password from standard input: %w", err)
	}
	if len(b) > limit {
		return "", errors.New("the password on standard input is too long")
	}
	s := string(b)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		if strings.TrimSpace(s[i+1:]) != "" {
			return "", errors.New("standard input has more than one line; give the password alone")
		}
		s = s[:i]
	}
	s = strings.TrimSuffix(s, "\r")
	if s == "" {
		return "", errors.New("no password on standard input")
	}
	return s, nil
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
	rows := userRows(ctx, e.svc, users)
	if *asJSON {
		return c.m.printJSON(rows)
	}
	w := tabwriter.NewWriter(c.m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tUSERNAME\tDISPLAY NAME\tENABLED\tCREATED\tEMAIL")
	for _, u := range rows {
		fmt.Fprintf(w, "%d\t%s\t%s\t%v\t%s\t%s\n", u.ID, u.Username, u.DisplayName, u.Enabled, u.CreatedAt.Format(time.RFC3339), emailColumn(u))
	}
	return w.Flush()
}

// userStateCmd is "user disable|enable|delete|reset-factors NAME".
type userStateCmd struct {
	m    *Main
	verb string
}

func (c *userStateCmd) Run(ctx context.Context, args []string) error {
	fs, db := c.m.flagSet("user " + c.verb)
	var yes *bool
	if c.verb == "delete" {
		yes = fs.Bool("yes", false, "delete without asking for confirmation")
	}
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
		if !u.Enabled {
			fmt.Fprintf(c.m.Stdout, "user %s is already disabled\n", u.Username)
			return nil
		}
		err = e.svc.DisableUser(ctx, u.ID)
	case "enable":
		if u.Enabled {
			fmt.Fprintf(c.m.Stdout, "user %s is already enabled\n", u.Username)
			return nil
		}
		err = e.svc.EnableUser(ctx, u.ID)
	case "delete":
		if !*yes {
			if err := c.m.confirm(fmt.Sprintf("delete user %s, its sessions and second factors from %s for good? [y/N] ", u.Username, redactDSN(*db))); err != nil {
				return err
			}
		}
		err = e.svc.DeleteUser(ctx, u.ID)
	case "reset-factors":
		if err = e.svc.ResetFactors(ctx, u.ID); err == nil {
			fmt.Fprintf(c.m.Stdout, "removed the second factors of user %s and ended its sessions\n", u.Username)
			return nil
		}
	}
	if err != nil {
		return explain(err, pos[0])
	}
	fmt.Fprintf(c.m.Stdout, "%sd user %s\n", c.verb, u.Username)
	return nil
}

// confirm asks a yes/no question on standard error and reads the answer
// from standard input; anything but y or yes, or no answer at all (a
// script without --yes), refuses.
func (m *Main) confirm(question string) error {
	fmt.Fprint(m.Stderr, question)
	var line []byte
	buf := make([]byte, 1)
	for len(line) < 64 {
		n, err := m.Stdin.Read(buf)
		if n == 1 {
			if buf[0] == '\n' {
				break
			}
			line = append(line, buf[0])
		}
		if err != nil {
			if len(line) == 0 {
				fmt.Fprintln(m.Stderr)
				return errors.New("not confirmed: no answer on standard input (give --yes to skip the question)")
			}
			break
		}
	}
	switch strings.ToLower(strings.TrimSpace(string(line))) {
	case "y", "yes":
		return nil
	}
	return errors.New("not confirmed; nothing was changed")
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

// sessionListCmd is "session list [--user NAME] [NAME] [--json]".
type sessionListCmd struct{ m *Main }

// sessionRow is a session as the list shows it: the library's own JSON of
// a Session (its "id" is the one "session revoke --id" takes), with the
// user's name and the device its User-Agent names beside it.
type sessionRow struct {
	localauth.Session
	Username string `json:"username"`
	Device   string `json:"device"`
}

func (c *sessionListCmd) Run(ctx context.Context, args []string) error {
	l := c.m.listFlags("session list", "list only the sessions of the user with this `name` (or give the name as an argument)")
	if err := l.parse(args); err != nil {
		return err
	}
	e, u, err := l.open(ctx)
	if err != nil {
		return err
	}
	defer e.close()
	sessions, err := e.svc.Sessions(ctx, u.ID)
	if err != nil {
		return explain(err, "")
	}
	names, err := e.usernames(ctx)
	if err != nil {
		return err
	}
	rows := make([]sessionRow, 0, len(sessions))
	for _, s := range sessions {
		rows = append(rows, sessionRow{Session: s, Username: names[s.UserID], Device: localauth.DeviceLabel(s.UserAgent)})
	}
	if *l.asJSON {
		return c.m.printJSON(rows)
	}
	w := tabwriter.NewWriter(c.m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tUSER\tDEVICE\tIP\tCREATED\tLAST SEEN\tEXPIRES")
	for _, r := range rows {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.PublicID, r.Username, r.Device, dash(r.IP), r.CreatedAt.Format(time.RFC3339),
			r.LastSeenAt.Format(time.RFC3339), r.ExpiresAt.Format(time.RFC3339))
	}
	return w.Flush()
}

// sessionRevokeCmd is "session revoke NAME | --id ID".
type sessionRevokeCmd struct{ m *Main }

func (c *sessionRevokeCmd) Run(ctx context.Context, args []string) error {
	fs, db := c.m.flagSet("session revoke")
	id := fs.String("id", "", "end only the session with this id (as 'session list' prints it)")
	pos, err := parse(fs, args, 0, 1)
	if err != nil {
		return err
	}
	if (*id == "") == (len(pos) == 0) {
		return usagef("session revoke: name a user, or give --id; usage: localauth %s", commands["session revoke"].usage)
	}
	if *id != "" {
		e, err := c.m.open(ctx, *db)
		if err != nil {
			return err
		}
		defer e.close()
		if err := e.svc.RevokeSession(ctx, *id); err != nil {
			if errors.Is(err, localauth.ErrSessionNotFound) {
				return fmt.Errorf("no session with id %q", *id)
			}
			return explain(err, "")
		}
		fmt.Fprintf(c.m.Stdout, "ended session %s\n", *id)
		return nil
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
	st, closeStore, err := c.m.openStore(ctx, *db)
	if err != nil {
		return err
	}
	defer closeStore()
	warnPermissive(c.m.Stderr, *db)
	if v, ok := st.(localauth.SchemaVersioner); ok {
		cur, latest, err := v.SchemaVersion(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.m.Stdout, "schema at version %d (latest %d)\n", cur, latest)
	} else {
		fmt.Fprintln(c.m.Stdout, "schema is up to date")
	}
	users, err := st.Users(ctx)
	if err != nil {
		return fmt.Errorf("listing users for look-alike names: %w", err)
	}
	reportLookAlikes(c.m.Stdout, users)
	return nil
}

// reportLookAlikes names the users whose names look alike (one
// UsernameSkeleton) and returns how many such groups there are. They were
// registered before look-alikes were refused; all of them keep working, and
// no new one can join them, but an administrator may want to disable one.
func reportLookAlikes(w io.Writer, users []localauth.User) int {
	groups := make(map[string][]string)
	var order []string
	for _, u := range users {
		k := localauth.UsernameSkeleton(u.Username)
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], strconv.Quote(u.Username))
	}
	n := 0
	for _, k := range order {
		if names := groups[k]; len(names) > 1 {
			n++
			fmt.Fprintf(w, "warning: look-alike usernames, registered before look-alikes were refused (all keep working): %s\n", strings.Join(names, ", "))
		}
	}
	return n
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
	if len(args) == 0 || isHelpFlag(args[0]) {
		c.m.printHelp(c.m.Stdout)
		return nil
	}
	name := strings.Join(args, " ")
	if groups[name] {
		c.m.printGroupHelp(c.m.Stdout, name)
		return nil
	}
	info, ok := commands[name]
	if !ok {
		return usagef("unknown command %q; see 'localauth help'", name)
	}
	// Each command describes its own flags when asked with --help.
	err := info.new(c.m).Run(ctx, []string{"--help"})
	var h helpRequested
	if errors.As(err, &h) {
		c.m.printCommandHelp(c.m.Stdout, name, h.fs)
		return nil
	}
	return err
}

// dash stands for an empty cell of a table.
func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
