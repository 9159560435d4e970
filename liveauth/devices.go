package liveauth

import (
	"context"
	"errors"
	"strings"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/live"
)

// The account page's trusted devices, and the second factor its password
// prompt asks for on an account that has one.

// DeviceRow is one of the user's trusted devices as the account page shows
// it.
type DeviceRow struct {
	ID       string `json:"id"`
	Label    string `json:"label"`
	Since    string `json:"since"`
	LastUsed string `json:"last_used"`
	Current  bool   `json:"current"`
}

// mountDevices registers the devices list and its Forget button.
func (a *Auth) mountDevices(app *live.App) {
	app.Computed("account.devices", []string{"auth.authenticated_user", "live.route"}, a.deviceRows)
	app.Handle("account.forget_device", a.forgetDevice)
}

func (a *Auth) deviceRows(ctx context.Context, t *live.Tab) any {
	rows := []DeviceRow{}
	if !onAccountPage(t) {
		return rows
	}
	list, err := a.svc.ListDevices(a.withIP(ctx, t), localauth.Token(*a.token(t)))
	if err != nil {
		if !errors.Is(err, localauth.ErrInvalidSession) {
			a.log.Warn("liveauth: listing devices failed", "err", err)
		}
		return rows
	}
	for _, d := range list {
		rows = append(rows, DeviceRow{
			ID: d.ID, Label: d.Label, Current: d.Current,
			Since:    d.CreatedAt.UTC().Format("2006-01-02"),
			LastUsed: d.LastUsedAt.UTC().Format("2006-01-02 15:04 UTC"),
		})
	}
	return rows
}

// forgetDevice is account.forget_device: the device is a stranger until
// its next completed login. Taking trust away needs no recent login.
func (a *Auth) forgetDevice(ctx context.Context, t *live.Tab, ev live.Event) error {
	id := ev.Fields["id"]
	return a.accountAction(ctx, t, "", func(ctx context.Context, tok localauth.Token) error {
		if err := a.svc.ForgetDevice(ctx, tok, id); err != nil {
			return err
		}
		live.Get[AccountState](t, "account").Message = MsgDeviceForgotten
		return nil
	})
}

// codeAnswer reads the code field of the password prompt: six digits are
// a code from the authenticator app, anything else a recovery code, and
// nothing no answer.
func codeAnswer(code string) localauth.SecondFactor {
	code = strings.TrimSpace(code)
	digits := strings.ReplaceAll(code, " ", "")
	switch {
	case code == "":
		return localauth.SecondFactor{}
	case len(digits) == 6 && strings.Trim(digits, "0123456789") == "":
		return localauth.SecondFactor{Code: digits}
	default:
		return localauth.SecondFactor{RecoveryCode: code}
	}
}
