package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// checkKeys reads the top-level object of raw and returns a message for the
// client when one of its keys is not exactly one of v's JSON field names or
// appears twice; "" when the keys are fine or raw is not an object at all
// (the decoder then says what is wrong).
//
// encoding/json matches keys without regard to case and keeps the last of
// two equal keys: {"PASSWORD":…} would fill Password, and
// {"password":"a","password":"b"} would mean "b" to this server while a
// proxy, a log or a web application firewall in front of it reads "a". A
// request must mean one thing to every reader, so both are refused.
func checkKeys(raw []byte, v any) string {
	names := jsonFieldNames(reflect.TypeOf(v))
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return ""
	}
	seen := make(map[string]bool, len(names))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		key, _ := tok.(string)
		if !names[key] {
			return fmt.Sprintf("Unknown field %s; the fields are %s.", quoteKey(key), fieldList(names))
		}
		if seen[key] {
			return fmt.Sprintf("The field %s appears more than once.", quoteKey(key))
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return ""
		}
	}
	return ""
}

// quoteKey quotes a key for an error message, cut to 64 characters: it is
// the client's own text, sent back to it only.
func quoteKey(k string) string {
	if utf8.RuneCountInString(k) > 64 {
		k = string([]rune(k)[:64]) + "…"
	}
	b, _ := json.Marshal(k)
	return string(b)
}

func fieldList(names map[string]bool) string {
	var l []string
	for n := range names {
		l = append(l, `"`+n+`"`)
	}
	slices.Sort(l)
	return strings.Join(l, ", ")
}

var fieldNames sync.Map // reflect.Type → map[string]bool

// jsonFieldNames returns the JSON names of the fields of the struct that t
// points to.
func jsonFieldNames(t reflect.Type) map[string]bool {
	if m, ok := fieldNames.Load(t); ok {
		return m.(map[string]bool)
	}
	m := make(map[string]bool)
	st := t
	for st.Kind() == reflect.Pointer {
		st = st.Elem()
	}
	if st.Kind() == reflect.Struct {
		for i := range st.NumField() {
			f := st.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			switch name {
			case "-":
				continue
			case "":
				name = f.Name
			}
			m[name] = true
		}
	}
	fieldNames.Store(t, m)
	return m
}
