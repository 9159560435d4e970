package localauth

import "context"

// What a transport tells the Service about the request it serves, through
// the context: the client's address, its User-Agent and the device token
// it presented, and what the transport can do with a device token. The
// packages web and liveauth set these for every call; a program of its own
// sets them with the With functions.

type ctxKey int

const clientIPKey ctxKey = 0

// WithClientIP returns a context that carries the client's IP address, for
// per-client throttling and for the audit log. Transports (web, live) set it
// from the connection, or from X-Forwarded-For behind a trusted proxy.
func WithClientIP(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, clientIPKey, ip)
}

// ClientIP returns the address set by WithClientIP, or "".
func ClientIP(ctx context.Context) string {
	ip, _ := ctx.Value(clientIPKey).(string)
	return ip
}

type userAgentKey struct{}

// maxUserAgent bounds the User-Agent kept with a session.
const maxUserAgent = 512

// WithUserAgent returns a context carrying the client's User-Agent, which
// Login keeps with the session so that its user can tell their sessions
// apart (see DeviceLabel).
func WithUserAgent(ctx context.Context, ua string) context.Context {
	return context.WithValue(ctx, userAgentKey{}, ua)
}

func userAgentFrom(ctx context.Context) string {
	ua, _ := ctx.Value(userAgentKey{}).(string)
	return truncate(ua, maxUserAgent)
}

type deviceKey struct{}

// WithDeviceToken returns a context carrying the device token the client
// presented (its device cookie), for Login. Transports set it as they set
// the client address with WithClientIP.
func WithDeviceToken(ctx context.Context, t Token) context.Context {
	return context.WithValue(ctx, deviceKey{}, t)
}

// DeviceTokenFrom returns the device token set by WithDeviceToken, or "".
func DeviceTokenFrom(ctx context.Context) Token {
	t, _ := ctx.Value(deviceKey{}).(Token)
	return t
}

type renewalKey struct{}

// WithDeviceRenewal returns a context whose device, should an action
// replace its device token (ending the trust of the account's other
// devices, say), is handed the new one through give. A transport sets it
// only where it can still store the new token in the browser, on an HTTP
// response that can carry a Set-Cookie: without it the device keeps its
// token, still trusted, rather than lose its trust to a token it never
// receives.
func WithDeviceRenewal(ctx context.Context, give func(Token)) context.Context {
	return context.WithValue(ctx, renewalKey{}, give)
}

type noDeviceKey struct{}

// WithoutDeviceIssue returns a context for logins whose transport cannot
// store a device token in the browser (a live page that keeps its session
// token in LocalStorage, with no handoff binding to trade a one-time code
// for the cookie): such a login issues none and records no device, rather
// than trust a device that no browser holds.
func WithoutDeviceIssue(ctx context.Context) context.Context {
	return context.WithValue(ctx, noDeviceKey{}, true)
}
