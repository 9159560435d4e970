package liveauth

import (
	"context"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/live"
)

// MsgPasskeyReenabled says a passkey suspended as a possible clone signs in
// again.
const MsgPasskeyReenabled = "Passkey confirmed: it signs you in again"

// confirmPendingPrefix marks a confirmation that waits for the password.
const confirmPendingPrefix = "confirm_passkey:"

// confirmPasskey is account.confirm_passkey (recent login): the owner of a
// passkey suspended as a possible clone says it is theirs and in their
// hands, and it signs in again (see localauth.Service.ConfirmPasskey).
func (a *Auth) confirmPasskey(ctx context.Context, t *live.Tab, ev live.Event) error {
	as := live.Get[AccountState](t, "account")
	id := ev.Fields["id"]
	return a.accountAction(ctx, t, confirmPendingPrefix+id, func(ctx context.Context, tok localauth.Token) error {
		if err := a.svc.ConfirmPasskey(ctx, tok, id); err != nil {
			return err
		}
		as.Message = MsgPasskeyReenabled
		t.Invalidate("account.factors")
		return nil
	})
}
