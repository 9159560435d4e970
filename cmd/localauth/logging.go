package main

import "log/slog"

// logger writes the audit records of an administrative command to
// standard error: text by default, JSON with --log-format json, nothing
// with --quiet. The records carry their own UTC time ("at"), so the
// handler's local-time stamp is left out.
func (m *Main) logger() *slog.Logger {
	if m.quiet {
		return discard()
	}
	opts := &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}
	if m.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(m.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(m.Stderr, opts))
}

// serverLogger writes the server's records to standard error, time in UTC,
// all in the one format --log-format chose: text (the default, for a
// terminal) or JSON (for a log pipeline).
func (m *Main) serverLogger() *slog.Logger {
	opts := &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				a.Value = slog.TimeValue(a.Value.Time().UTC())
			}
			return a
		},
	}
	if m.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(m.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(m.Stderr, opts))
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
