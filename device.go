package localauth

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Device is one trusted device of a user: a browser that completed a login
// to the account and holds the device token the server issued it then.
type Device struct {
	UserID int64
	// PublicID names the device to its user and to administrators, for
	// listing and forgetting it, without being its token.
	PublicID string
	// TokenHash is the SHA-256 of the device token; the token itself is
	// never stored.
	TokenHash TokenHash
	// UserAgent is the browser's, from its latest login, for a label.
	UserAgent  string
	CreatedAt  time.Time
	LastUsedAt time.Time
	ExpiresAt  time.Time
}

// DeviceStore is an optional ability of a Store: remembering which browsers
// have logged in to which accounts (device tokens, see ThrottleConfig). A
// Store without it gets no trusted devices: every client is a stranger.
// Both stores implement it; a user's devices are deleted with the user.
// Errors follow the rule of Store ("not found" is ErrDeviceNotFound here).
// DeviceTrusted and Devices pass over expired devices until
// DeleteExpiredDevices deletes them.
type DeviceStore interface {
	// TrustDevice records d, a device of d.UserID trusted until
	// d.ExpiresAt. When replaces names a device of that user, that record
	// takes d's token hash, user agent, last use and expiry instead, and d
	// gets its public id and creation time: the device's previous token is
	// trusted no more. ErrUserNotFound when the user does not exist.
	TrustDevice(ctx context.Context, d *Device, replaces *TokenHash) error
	// DeviceTrusted reports whether h is trusted for the user at now.
	DeviceTrusted(ctx context.Context, userID int64, h TokenHash, now time.Time) (bool, error)
	// Devices returns the devices of the user, or of every user when
	// userID is 0, trusted at now, most recently used first.
	Devices(ctx context.Context, userID int64, now time.Time) ([]Device, error)
	// DeleteDevice deletes the device with the public id, provided it
	// belongs to userID (any user's when userID is 0), and returns it;
	// ErrDeviceNotFound otherwise.
	DeleteDevice(ctx context.Context, userID int64, publicID string) (Device, error)
	// DeleteDevices deletes every device of the user but the one whose
	// token hash is except, when given, and returns how many.
	DeleteDevices(ctx context.Context, userID int64, except *TokenHash) (int, error)
	// DeleteExpiredDevices deletes the devices whose trust expired at or
	// before now, and returns how many.
	DeleteExpiredDevices(ctx context.Context, now time.Time) (int, error)
}

// EventDevice is the audit event of trusted devices: their trust ended
// ("trust_ended", with how many and why) or one forgotten ("forgotten").
const EventDevice = "device"

// NewDeviceToken returns a new random token, for a transport that gives
// every browser a device cookie before it first logs in (it binds the
// second step of a login to that browser). The server never trusts such a
// token: a completed login issues the browser a token of its own.
func (s *Service) NewDeviceToken() (Token, error) { return newToken(s.rand) }

// deviceStore returns the Store's DeviceStore, if it has one.
func (s *Service) deviceStore() (DeviceStore, bool) {
	ds, ok := s.store.(DeviceStore)
	return ds, ok
}

// trustedDevice returns the device token the client presented, if it is
// well formed, and whether it was issued to user and is trusted still.
func (s *Service) trustedDevice(ctx context.Context, user User, found bool) (Token, bool, error) {
	device := DeviceTokenFrom(ctx)
	if !device.wellFormed() {
		return "", false, nil
	}
	ds, ok := s.deviceStore()
	if !ok || !found {
		return device, false, nil
	}
	trusted, err := ds.DeviceTrusted(ctx, user.ID, HashToken(device), s.now())
	return device, trusted, err
}

// rememberDevice trusts the client's device for the user after a completed
// login, and returns the device token it must keep from now on: always a
// new one, issued here. When the client presented a token of this user's
// still trusted, that device record takes the new token (rotation: the old
// value, wherever a copy of it went, is trusted no more). A token the
// server did not issue to this user is never adopted: whoever planted it
// in the browser would know a trusted token.
func (s *Service) rememberDevice(ctx context.Context, userID int64, presented Token) (Token, error) {
	tok, d, replaces, err := s.newDevice(ctx, userID, presented)
	if err != nil || d == nil {
		return "", err
	}
	if err := s.store.(DeviceStore).TrustDevice(ctx, d, replaces); err != nil {
		return "", err
	}
	return tok, nil
}

// newDevice makes the device record and token rememberDevice stores, and
// the token hash of the record it replaces: no record (nil) when the store
// keeps no devices or the transport cannot hand a token over.
func (s *Service) newDevice(ctx context.Context, userID int64, presented Token) (Token, *Device, *TokenHash, error) {
	if _, ok := s.deviceStore(); !ok || ctx.Value(noDeviceKey{}) != nil {
		return "", nil, nil, nil
	}
	tok, err := newToken(s.rand)
	if err != nil {
		return "", nil, nil, err
	}
	id, err := newPublicID(s.rand)
	if err != nil {
		return "", nil, nil, err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	d := &Device{
		UserID: userID, PublicID: id, TokenHash: HashToken(tok), UserAgent: userAgentFrom(ctx),
		CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(s.deviceLife),
	}
	var replaces *TokenHash
	if presented.wellFormed() {
		h := HashToken(presented)
		replaces = &h
	}
	return tok, d, replaces, nil
}

// endDeviceTrust ends the trust of every device of the user but the
// client's own, when the client presents a token trusted for the user;
// except false ends them all. The client's device, when spared, gets a new
// token where the transport can hand it over (WithDeviceRenewal), so that a
// copy of its old token is trusted no more either. A failure is logged:
// the action that called it stands.
func (s *Service) endDeviceTrust(ctx context.Context, user User, except bool, why string) {
	ds, ok := s.deviceStore()
	if !ok {
		return
	}
	var keep *TokenHash
	if except {
		if dev, trusted, err := s.trustedDevice(ctx, user, true); err == nil && trusted {
			h := HashToken(dev)
			keep = &h
		}
	}
	n, err := ds.DeleteDevices(ctx, user.ID, keep)
	if err != nil {
		s.log.Warn("localauth: ending the trust of devices failed", "user_id", user.ID, "err", err)
		return
	}
	if n > 0 {
		s.audit(ctx, slog.LevelInfo, EventDevice, user.Username, "trust_ended",
			slog.Int64("user_id", user.ID), slog.Int("devices", n), slog.String("why", why))
		s.recordActivity(ctx, user.ID, ActivityDeviceForgotten, "", devicesForgotten(n))
	}
	give, _ := ctx.Value(renewalKey{}).(func(Token))
	if keep == nil || give == nil {
		return
	}
	tok, err := s.rememberDevice(ctx, user.ID, DeviceTokenFrom(ctx))
	if err != nil {
		s.log.Warn("localauth: renewing a device token failed", "user_id", user.ID, "err", err)
		return
	}
	give(tok)
}

// DeviceInfo is one of a user's trusted devices as the user sees it.
type DeviceInfo struct {
	// ID names the device for ForgetDevice.
	ID string `json:"id"`
	// Label is the browser and system (see DeviceLabel).
	Label      string    `json:"label"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	// Current is true for the device asking.
	Current bool `json:"current"`
}

// ListDevices returns the trusted devices of the token's user, most
// recently used first, marking the one asking.
//
// Errors: ErrInvalidSession; ErrUnavailable.
func (s *Service) ListDevices(ctx context.Context, token Token) ([]DeviceInfo, error) {
	_, user, err := s.currentSession(ctx, token)
	if err != nil {
		return nil, err
	}
	ds, ok := s.deviceStore()
	if !ok {
		return []DeviceInfo{}, nil
	}
	all, err := ds.Devices(ctx, user.ID, s.now())
	if err != nil {
		return nil, s.unavailable(ctx, "list devices", err)
	}
	var cur TokenHash
	if dev := DeviceTokenFrom(ctx); dev.wellFormed() {
		cur = HashToken(dev)
	}
	out := make([]DeviceInfo, 0, len(all))
	for _, d := range all {
		out = append(out, DeviceInfo{
			ID: d.PublicID, Label: DeviceLabel(d.UserAgent), CreatedAt: d.CreatedAt,
			LastUsedAt: d.LastUsedAt, Current: d.TokenHash == cur,
		})
	}
	return out, nil
}

// ForgetDevice ends the trust of one trusted device of the token's user,
// by its id. Forgetting trust only takes an exemption away, so it needs no
// recent login. A device of another user is not found, exactly as an
// unknown id.
//
// Errors: ErrDeviceNotFound; ErrInvalidSession; ErrUnavailable.
func (s *Service) ForgetDevice(ctx context.Context, token Token, id string) error {
	_, user, err := s.currentSession(ctx, token)
	if err != nil {
		return err
	}
	return s.forgetDevice(ctx, user.ID, id, "owner")
}

// forgetDevice deletes the device id of userID (of anyone's for 0).
func (s *Service) forgetDevice(ctx context.Context, userID int64, id, by string) error {
	ds, ok := s.deviceStore()
	if !ok || !validPublicID(id) {
		return ErrDeviceNotFound
	}
	d, err := ds.DeleteDevice(ctx, userID, id)
	if errors.Is(err, ErrDeviceNotFound) {
		return ErrDeviceNotFound
	}
	if err != nil {
		return s.unavailable(ctx, "forget device", err)
	}
	s.audit(ctx, slog.LevelInfo, EventDevice, s.usernameOf(ctx, d.UserID), "forgotten",
		slog.Int64("user_id", d.UserID), slog.String("device", d.PublicID), slog.String("by", by))
	detail := DeviceLabel(d.UserAgent)
	if by == "admin" {
		detail += ", by an administrator"
	}
	s.recordActivity(ctx, d.UserID, ActivityDeviceForgotten, "", detail)
	return nil
}

// Devices returns the trusted devices of the user, or of every user when
// userID is 0, as an administrator sees them. Errors: ErrUnavailable.
func (s *Service) Devices(ctx context.Context, userID int64) ([]Device, error) {
	ds, ok := s.deviceStore()
	if !ok {
		return nil, nil
	}
	all, err := ds.Devices(ctx, userID, s.now())
	return all, storeErr(err)
}

// RevokeDevice ends the trust of the device with the given id, whoever it
// belongs to, as an administrator does. Errors: ErrDeviceNotFound;
// ErrUnavailable.
func (s *Service) RevokeDevice(ctx context.Context, id string) error {
	return s.forgetDevice(ctx, 0, id, "admin")
}
