package web

import "slices"

// APIRoutes lists the endpoints that a's API serves, as "METHOD name": name
// is the path under APIPrefix, with an item's id written {id} as in the
// OpenAPI document's paths. It reads the route tables that API routes by,
// so that TestOpenAPIServed compares the document with the code, not with
// a copy of it.
func APIRoutes(a *Auth) []string {
	var l []string
	for name, rt := range a.apiRoutes() {
		l = append(l, rt.method+" "+name)
	}
	for _, it := range itemRoutes {
		l = append(l, it.method+" "+it.prefix+"{id}"+it.suffix)
	}
	slices.Sort(l)
	return l
}
