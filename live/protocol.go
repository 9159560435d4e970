package live

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// The wire protocol: JSON text messages, one per websocket message.
//
// From the page:
//
//	{"t":"hello","route":"/login","query":"?a=1","local":{"_auth_token":"…"}}   first message: hydration
//	{"t":"event","id":7,"name":"login.on_submit","fields":{"username":"…"}}       a public handler
//	{"t":"nav","id":8,"route":"/protected","query":""}                            client-side navigation
//	{"t":"ping"}                                                                  keep-alive
//
// From the server:
//
//	{"t":"update","id":7,"delta":{"login":{"error_message":"…"}},"actions":[…],"done":true}
//	{"t":"error","id":7,"error":"unknown_event","message":"…"}
//
// Values the page sends are strings only; the server never trusts their shape.

// clientMessage is every message a page may send; which fields apply depends
// on T.
type clientMessage struct {
	T      string            `json:"t"`
	ID     int64             `json:"id,omitempty"`
	Name   string            `json:"name,omitempty"`
	Fields map[string]string `json:"fields,omitempty"`
	Route  string            `json:"route,omitempty"`
	Query  string            `json:"query,omitempty"`
	Local  map[string]string `json:"local,omitempty"`
}

// Limits on what a page may send, beyond the message size limit.
const (
	maxFields     = 64
	maxFieldBytes = 16 << 10
	maxNameBytes  = 128
	maxRouteBytes = 2048
)

// errBadMessage is wrapped by every decoding failure.
var errBadMessage = errors.New("malformed message")

// decodeClientMessage parses and validates one message from a page. It
// refuses unknown fields, trailing data, invalid UTF-8, oversized values and
// messages of unknown type.
func decodeClientMessage(data []byte) (clientMessage, error) {
	var m clientMessage
	if !utf8.Valid(data) {
		return m, fmt.Errorf("%w: not UTF-8", errBadMessage)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return clientMessage{}, fmt.Errorf("%w: %v", errBadMessage, jsonErrorText(err))
	}
	if dec.More() {
		return clientMessage{}, fmt.Errorf("%w: trailing data", errBadMessage)
	}
	switch m.T {
	case "hello", "nav":
		if err := checkRoute(m.Route, m.Query); err != nil {
			return clientMessage{}, err
		}
	case "event":
		if m.Name == "" || len(m.Name) > maxNameBytes {
			return clientMessage{}, fmt.Errorf("%w: event name missing or too long", errBadMessage)
		}
	case "ping":
	default:
		return clientMessage{}, fmt.Errorf("%w: unknown message type %q", errBadMessage, truncate(m.T, 32))
	}
	if len(m.Fields) > maxFields || len(m.Local) > maxFields {
		return clientMessage{}, fmt.Errorf("%w: too many fields", errBadMessage)
	}
	for _, kv := range []map[string]string{m.Fields, m.Local} {
		for k, v := range kv {
			if len(k) > maxNameBytes || len(v) > maxFieldBytes {
				return clientMessage{}, fmt.Errorf("%w: field too long", errBadMessage)
			}
		}
	}
	return m, nil
}

func checkRoute(route, query string) error {
	if !strings.HasPrefix(route, "/") || strings.HasPrefix(route, "//") || len(route) > maxRouteBytes || len(query) > maxRouteBytes ||
		strings.ContainsFunc(route+query, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }) {
		return fmt.Errorf("%w: bad route", errBadMessage)
	}
	if query != "" && !strings.HasPrefix(query, "?") {
		return fmt.Errorf("%w: bad query", errBadMessage)
	}
	return nil
}

// jsonErrorText describes a JSON error without echoing the input.
func jsonErrorText(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("invalid JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q has the wrong type", typ.Field)
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return "unknown field"
	default:
		return "invalid JSON"
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// serverMessage is every message the server sends.
type serverMessage struct {
	T       string                                `json:"t"`
	ID      int64                                 `json:"id,omitempty"`
	Delta   map[string]map[string]json.RawMessage `json:"delta,omitempty"`
	Actions []action                              `json:"actions,omitempty"`
	Done    bool                                  `json:"done,omitempty"`
	Error   string                                `json:"error,omitempty"`
	Message string                                `json:"message,omitempty"`
}

// action is an instruction to the page, run in order after the update's
// delta is applied.
type action struct {
	Do    string `json:"do"`
	To    string `json:"to,omitempty"`
	ID    string `json:"id,omitempty"`
	Key   string `json:"key,omitempty"`
	Value string `json:"value,omitempty"`
	// Session, on a local_set, keeps the value in the page's
	// sessionStorage instead of its LocalStorage (see Tab.SessionStorage).
	Session bool `json:"session,omitempty"`
}

// Error codes of error replies.
const (
	ErrCodeBadMessage   = "bad_message"
	ErrCodeUnknownEvent = "unknown_event"
	ErrCodeRateLimited  = "rate_limited"
	ErrCodeNotHydrated  = "not_hydrated"
	ErrCodeHandler      = "handler_failed"
)
