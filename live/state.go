package live

import (
	"fmt"
	"reflect"
	"strings"
)

// fieldDef is one tagged field of a substate: a variable, with the options
// of its live:"…" tag (see the package documentation).
type fieldDef struct {
	index  int
	name   string // variable name within the substate
	synced bool   // sent to the page
	local  string // LocalStorage key, or ""
}

type stateDef struct {
	index  int // its place in App.states, and in a tab's states
	name   string
	newFn  func() any
	typ    reflect.Type // the struct type
	fields []fieldDef
}

func newStateDef(name string, newFn func() any) (*stateDef, error) {
	v := newFn()
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("live: state %q: new must return a pointer to a struct, got %T", name, v)
	}
	d := &stateDef{name: name, newFn: newFn, typ: rv.Elem().Type()}
	for i := 0; i < d.typ.NumField(); i++ {
		f := d.typ.Field(i)
		tag, ok := f.Tag.Lookup("live")
		if !ok {
			continue
		}
		if !f.IsExported() {
			return nil, fmt.Errorf("live: state %q: field %s is tagged but not exported", name, f.Name)
		}
		parts := strings.Split(tag, ",")
		fd := fieldDef{index: i, name: parts[0], synced: true}
		if fd.name == "" || strings.ContainsAny(fd.name, ". ") {
			return nil, fmt.Errorf("live: state %q: field %s has a bad variable name %q", name, f.Name, fd.name)
		}
		for _, opt := range parts[1:] {
			switch {
			case opt == "server":
				fd.synced = false
			case strings.HasPrefix(opt, "local="):
				fd.local = strings.TrimPrefix(opt, "local=")
				if fd.local == "" || f.Type.Kind() != reflect.String {
					return nil, fmt.Errorf("live: state %q: field %s: local= needs a key and a string field", name, f.Name)
				}
			default:
				return nil, fmt.Errorf("live: state %q: field %s: unknown option %q", name, f.Name, opt)
			}
		}
		d.fields = append(d.fields, fd)
	}
	return d, nil
}
