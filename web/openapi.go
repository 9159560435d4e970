package web

import (
	"bytes"
	_ "embed"
	"net/http"
	"strconv"
)

// openAPI is the OpenAPI 3.1 document of the JSON API: every endpoint, its
// request, its answers and their status codes, its errors and its
// security. The web tests hold every exchange they make with the API to it,
// so a change of the API that it does not describe fails them.
//
//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the OpenAPI 3.1 document (JSON) of the API that API
// serves, as it serves it itself at APIPrefix + "openapi.json". Each call
// returns a new copy.
func OpenAPI() []byte { return bytes.Clone(openAPI) }

// apiOpenAPI serves the document. It needs no session: it says nothing
// that trying the endpoints would not.
func apiOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header()["Content-Type"] = valJSON
	w.Header().Set("Content-Length", strconv.Itoa(len(openAPI)))
	w.Write(openAPI)
}
