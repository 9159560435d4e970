package live

import (
	"encoding/json"
	"reflect"
	"testing"
)

// C35: the message decoder never panics, and what it accepts survives a
// round trip: decode(encode(m)) == m.
func FuzzDecodeClientMessage(f *testing.F) {
	for _, s := range []string{
		`{"t":"hello","id":1,"route":"/","query":"","local":{"_auth_token":"x"}}`,
		`{"t":"event","id":2,"name":"login.on_submit","fields":{"username":"a","password":"b"}}`,
		`{"t":"nav","id":3,"route":"/protected","query":"?a=1"}`,
		`{"t":"ping"}`, `{"t":"event"}`, `not json`, `{"t":"nav","route":"//evil.com"}`, "{\"t\":\"event\",\"name\":\"a\xff\"}", `[]`, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeClientMessage(data)
		if err != nil {
			return
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("cannot re-encode %+v: %v", m, err)
		}
		again, err := decodeClientMessage(b)
		if err != nil {
			t.Fatalf("re-encoded %s refused: %v", b, err)
		}
		if !reflect.DeepEqual(normalize(m), normalize(again)) {
			t.Fatalf("round trip: %+v != %+v", m, again)
		}
	})
}

// normalize treats an empty map like a missing one, as JSON's omitempty
// does.
func normalize(m clientMessage) clientMessage {
	if len(m.Fields) == 0 {
		m.Fields = nil
	}
	if len(m.Local) == 0 {
		m.Local = nil
	}
	return m
}
