package storetest

import (
	"crypto/sha256"
	"testing"
	"time"

	"github.com/localauth/localauth"
)

// newDevice returns a device of userID whose token hash is the SHA-256 of
// token.
func newDevice(userID int64, token, publicID string, now, expires time.Time) *localauth.Device {
	return &localauth.Device{
		UserID: userID, PublicID: publicID, TokenHash: sha256.Sum256([]byte(token)),
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0",
		CreatedAt: now, LastUsedAt: now, ExpiresAt: expires,
	}
}

// testDeviceRotation checks what trusted devices do beyond trust: a
// rotation replaces a device's token (the old one is trusted no more) and
// keeps its id and age, but only for a token of the same user; devices are
// listed per user and for all, forgotten by id only by their owner (or
// anyone, userID 0), and ended all but one.
func testDeviceRotation(t *testing.T, h *harness) {
	s := h.newStore(t)
	ds, ok := s.(localauth.DeviceStore)
	if !ok {
		t.Skip("the store keeps no devices")
	}
	u := h.user(t, s, "vera")
	other := h.user(t, s, "walt")
	trusted := func(userID int64, token string) bool {
		t.Helper()
		ok, err := ds.DeviceTrusted(ctx, userID, sha256.Sum256([]byte(token)), t0)
		noErr(t, "DeviceTrusted", err)
		return ok
	}
	noErr(t, "TrustDevice", ds.TrustDevice(ctx, newDevice(u.ID, "one", "vera-device-00001", t0, t0.Add(time.Hour)), nil))
	noErr(t, "TrustDevice", ds.TrustDevice(ctx, newDevice(other.ID, "walt", "walt-device-00001", t0, t0.Add(time.Hour)), nil))

	// Rotation: the same record takes the new token.
	old := localauth.TokenHash(sha256.Sum256([]byte("one")))
	d := newDevice(u.ID, "two", "vera-device-00002", t0.Add(time.Minute), t0.Add(2*time.Hour))
	noErr(t, "TrustDevice rotating", ds.TrustDevice(ctx, d, &old))
	if d.PublicID != "vera-device-00001" || !d.CreatedAt.Equal(t0) {
		t.Fatalf("a rotated device got id %q created %v, want its old id and age", d.PublicID, d.CreatedAt)
	}
	if trusted(u.ID, "one") || !trusted(u.ID, "two") {
		t.Fatal("after a rotation the old token is trusted or the new one is not")
	}
	// A token of another user is no record to rotate: a new device.
	walt := localauth.TokenHash(sha256.Sum256([]byte("walt")))
	d = newDevice(u.ID, "three", "vera-device-00003", t0, t0.Add(time.Hour))
	noErr(t, "TrustDevice with another's token", ds.TrustDevice(ctx, d, &walt))
	if d.PublicID != "vera-device-00003" || !trusted(other.ID, "walt") {
		t.Fatal("a token of another user was rotated away")
	}

	list, err := ds.Devices(ctx, u.ID, t0)
	noErr(t, "Devices", err)
	if len(list) != 2 || list[0].PublicID != "vera-device-00001" || list[0].UserAgent == "" || list[0].TokenHash != sha256.Sum256([]byte("two")) {
		t.Fatalf("Devices(vera) = %+v, want the rotated device first, then the new one", list)
	}
	all, err := ds.Devices(ctx, 0, t0)
	noErr(t, "Devices(0)", err)
	if len(all) != 3 {
		t.Fatalf("Devices(0) lists %d devices, want 3", len(all))
	}
	if gone, err := ds.Devices(ctx, u.ID, t0.Add(3*time.Hour)); err != nil || len(gone) != 0 {
		t.Fatalf("expired devices listed: %v, %v", gone, err)
	}

	// Forgetting by id: only the owner's, or anyone's with 0.
	_, err = ds.DeleteDevice(ctx, other.ID, "vera-device-00003")
	wantErr(t, "another user's device", err, localauth.ErrDeviceNotFound)
	if !trusted(u.ID, "three") {
		t.Fatal("a refused forget ended the trust")
	}
	got, err := ds.DeleteDevice(ctx, u.ID, "vera-device-00003")
	noErr(t, "DeleteDevice", err)
	if got.UserID != u.ID || trusted(u.ID, "three") {
		t.Fatalf("DeleteDevice returned %+v and left the device trusted: %v", got, trusted(u.ID, "three"))
	}
	_, err = ds.DeleteDevice(ctx, 0, "vera-device-00003")
	wantErr(t, "a forgotten device again", err, localauth.ErrDeviceNotFound)

	// Ending all but one, then all.
	noErr(t, "TrustDevice", ds.TrustDevice(ctx, newDevice(u.ID, "four", "vera-device-00004", t0, t0.Add(time.Hour)), nil))
	keep := localauth.TokenHash(sha256.Sum256([]byte("four")))
	n, err := ds.DeleteDevices(ctx, u.ID, &keep)
	noErr(t, "DeleteDevices except", err)
	if n != 1 || trusted(u.ID, "two") || !trusted(u.ID, "four") || !trusted(other.ID, "walt") {
		t.Fatalf("DeleteDevices(except) ended %d; two %v four %v walt %v", n, trusted(u.ID, "two"), trusted(u.ID, "four"), trusted(other.ID, "walt"))
	}
	n, err = ds.DeleteDevices(ctx, u.ID, nil)
	noErr(t, "DeleteDevices", err)
	if n != 1 || trusted(u.ID, "four") {
		t.Fatalf("DeleteDevices(nil) ended %d, four still trusted: %v", n, trusted(u.ID, "four"))
	}
	if _, err := ds.DeleteDevice(ctx, 0, "walt-device-00001"); err != nil || trusted(other.ID, "walt") {
		t.Fatalf("DeleteDevice(0, walt's): %v", err)
	}
}
