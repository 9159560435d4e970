package web

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// TestMeJSON holds the hand-written encoding of GET me to what
// encoding/json writes for the same value, for names that need no escaping
// and for those that do.
func TestMeJSON(t *testing.T) {
	for _, u := range []APIUser{
		{ID: 1, Username: "bench", DisplayName: "Bench", CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
		{ID: 1 << 40, Username: "zoë", DisplayName: "Zoë", CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 123_000_000, time.UTC)},
		{ID: -3, Username: `a"b\c`, DisplayName: "<script>&\u2028\x01", CreatedAt: time.Date(1999, 12, 31, 23, 59, 59, 1, time.FixedZone("x", 3600))},
		{ID: 0, Username: "", DisplayName: "\xff\xfe", CreatedAt: time.Time{}},
	} {
		want, err := json.Marshal(map[string]any{"user": u})
		if err != nil {
			t.Fatal(err)
		}
		got := append(appendAPIUser([]byte(`{"user":`), u), '}')
		if string(got) != string(want) {
			t.Errorf("got %s, want %s", got, want)
		}
	}
}

// TestCookieValue holds cookieValue to what net/http's Request.Cookie
// returns, on well-formed and malformed Cookie headers alike.
func TestCookieValue(t *testing.T) {
	for _, h := range [][]string{
		nil,
		{""},
		{"localauth_session=abc"},
		{"a=1; localauth_session=abc; b=2"},
		{"a=1", "localauth_session=second-line"},
		{`localauth_session="quoted"`},
		{`localauth_session="half`},
		{"localauth_session=bad value; localauth_session=good"},
		{"localauth_session=bad\\v; localauth_session=ok2"},
		{"localauth_session"},
		{"localauth_session="},
		{"  localauth_session=spaced  ;x=y"},
		{"Localauth_session=case"},
		{"xlocalauth_session=prefix; localauth_session=real"},
		{"localauth_session=ü"},
		{"localauth_session =trimmed-name"},
		{"\tlocalauth_session=tab\t; y=z"},
		{"a=b;;localauth_session=after-empty"},
	} {
		r, _ := http.NewRequest("GET", "/", nil)
		for _, v := range h {
			r.Header.Add("Cookie", v)
		}
		want := ""
		if c, err := r.Cookie(CookieName); err == nil {
			want = c.Value
		}
		if got := cookieValue(r, CookieName); got != want {
			t.Errorf("Cookie %q: got %q, want %q", h, got, want)
		}
	}
}
