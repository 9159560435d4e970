package localauth

import (
	"context"
	"time"
)

// DeviceStore is an optional ability of a Store: remembering which browsers
// have logged in to which accounts (device tokens, see ThrottleConfig). A
// Store without it gets no trusted devices: every client is a stranger.
// Both stores implement it; a user's devices are deleted with the user.
type DeviceStore interface {
	// TrustDevice records that the client holding the device token whose
	// hash is h logged in to the user at now, trusted until expires. It
	// refreshes an existing record.
	TrustDevice(ctx context.Context, userID int64, h TokenHash, now, expires time.Time) error
	// DeviceTrusted reports whether h is trusted for the user at now.
	DeviceTrusted(ctx context.Context, userID int64, h TokenHash, now time.Time) (bool, error)
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

// NewDeviceToken returns a new device token, for a transport that gives
// every browser one before it first logs in (a device token means nothing
// until a login from it succeeds).
func (s *Service) NewDeviceToken() (Token, error) { return newToken(s.rand) }

// trustedDevice returns the device token the client presented, if it is
// well formed, and whether it is trusted for user.
func (s *Service) trustedDevice(ctx context.Context, user User, found bool) (Token, bool, error) {
	device := DeviceTokenFrom(ctx)
	if !device.wellFormed() {
		return "", false, nil
	}
	ds, ok := s.store.(DeviceStore)
	if !ok || !found {
		return device, false, nil
	}
	trusted, err := ds.DeviceTrusted(ctx, user.ID, HashToken(device), s.now())
	return device, trusted, err
}

// rememberDevice trusts the client's device for the user after a
// successful login, and returns the device token it should keep: the one it
// presented, or a new one.
func (s *Service) rememberDevice(ctx context.Context, userID int64, device Token) (Token, error) {
	ds, ok := s.store.(DeviceStore)
	if !ok {
		return "", nil
	}
	if device == "" {
		var err error
		if device, err = newToken(s.rand); err != nil {
			return "", err
		}
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	if err := ds.TrustDevice(ctx, userID, HashToken(device), now, now.Add(s.deviceLife)); err != nil {
		return "", err
	}
	return device, nil
}
