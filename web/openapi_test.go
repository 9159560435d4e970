package web_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/mfa"
	"github.com/localauth/localauth/web"
)

// The OpenAPI document is kept true by the tests: every request the web
// tests send to the API through a client of theirs (do, env.client) goes
// through contractTransport, which holds the exchange to the document.
//
//   - The response must be one the document gives for the request's
//     operation: a documented status, its headers and its body schema
//     (kin-openapi's openapi3filter). The API's own headers that the
//     document leaves out of that answer (Set-Cookie, Retry-After, Allow)
//     and a body where it gives none are refused too.
//   - The request is checked as well. A request the document refuses
//     (a wrong content type, an unknown field, no credentials where the
//     operation needs them) is one a test sent to see it refused: it must
//     get a 4xx, itself checked as above. A 2xx or a 5xx to it means the
//     document and the server disagree on what is acceptable.
//   - A path or method the document does not have must get the API's 404
//     not_found or 405 method_not_allowed (with an Allow the document has
//     for the path), or 403 cross_origin, which is answered before routing.
//
// So a deliberately malformed request needs no marking: the document says
// it is malformed, and the server must agree.

// apiContract is the document, loaded, validated and routed once for the
// whole test binary.
var apiContract = sync.OnceValues(func() (*contract, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(web.OpenAPI())
	if err != nil {
		return nil, fmt.Errorf("loading web/openapi.json: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("web/openapi.json is not a valid OpenAPI document: %w", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("routing web/openapi.json: %w", err)
	}
	return &contract{doc: doc, router: router}, nil
})

type contract struct {
	doc    *openapi3.T
	router routers.Router
}

// contractTransport sends requests on through next and reports, through
// report, every way in which an exchange with the API (a path under
// APIPrefix) departs from the document. Other paths pass unchecked.
type contractTransport struct {
	next   http.RoundTripper
	report func(problem string)
}

func (ct *contractTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !strings.HasPrefix(req.URL.Path, web.APIPrefix) {
		return ct.next.RoundTrip(req)
	}
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	out := withBody(req, body)
	res, err := ct.next.RoundTrip(out)
	if err != nil {
		return res, err
	}
	resBody, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(resBody))
	c, err := apiContract()
	if err != nil {
		ct.report(err.Error())
		return res, nil
	}
	for _, p := range c.check(withBody(req, body), res.StatusCode, res.Header, resBody) {
		ct.report(fmt.Sprintf("%s %s: %s", req.Method, req.URL.Path, p))
	}
	return res, nil
}

// withBody returns a copy of req that will send body.
func withBody(req *http.Request, body []byte) *http.Request {
	r := req.Clone(req.Context())
	if req.Body == nil {
		return r
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	r.ContentLength = int64(len(body))
	return r
}

// checkedClient returns a copy of c whose exchanges with the API are held
// to the document, the problems going to report.
func checkedClient(c *http.Client, report func(string)) *http.Client {
	cc := *c
	next := cc.Transport
	if ct, ok := next.(*contractTransport); ok {
		next = ct.next
	}
	if next == nil {
		next = http.DefaultTransport
	}
	cc.Transport = &contractTransport{next: next, report: report}
	return &cc
}

// contractOptions are kin-openapi's options for every check: a status the
// document does not give for the operation is an error, and so is a body
// sent to an operation that takes none; the request checked is left as
// sent (no defaults filled in).
var contractOptions = &openapi3filter.Options{
	AuthenticationFunc:                authenticated,
	IncludeResponseStatus:             true,
	RejectWhenRequestBodyNotSpecified: true,
	SkipSettingDefaults:               true,
}

// authenticated says whether the request carries the credential of a
// security scheme of the document, as web.Auth.Token reads them: a Bearer
// Authorization header, or the session cookie when there is no
// Authorization header at all.
func authenticated(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	r, s := in.RequestValidationInput.Request, in.SecurityScheme
	auth := r.Header.Get("Authorization")
	switch {
	case s.Type == "http" && strings.EqualFold(s.Scheme, "bearer"):
		if tok, ok := strings.CutPrefix(auth, "Bearer "); ok && strings.TrimSpace(tok) != "" {
			return nil
		}
	case s.Type == "apiKey" && s.In == "cookie":
		if c, err := r.Cookie(s.Name); auth == "" && err == nil && c.Value != "" {
			return nil
		}
	}
	return in.NewError(nil)
}

// controlledHeaders are the headers the API sets on some answers only: an
// answer that sends one must be documented with it.
var controlledHeaders = []string{"Set-Cookie", "Retry-After", "Allow"}

// check returns the ways in which an exchange departs from the document.
func (c *contract) check(req *http.Request, status int, header http.Header, body []byte) []string {
	ctx := context.Background()
	find, opts := req, contractOptions
	if req.Method == http.MethodHead {
		// Every GET also answers HEAD: the GET's answer without its body.
		find = req.Clone(ctx)
		find.Method = http.MethodGet
		o := *contractOptions
		o.ExcludeResponseBody = true
		opts = &o
	}
	route, params, err := c.router.FindRoute(find)
	if err != nil {
		return c.checkUnrouted(req, err, status, header, body)
	}
	var problems []string
	in := &openapi3filter.RequestValidationInput{Request: find, PathParams: params, Route: route, Options: opts}
	reqErr := openapi3filter.ValidateRequest(ctx, in)
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: header, Options: opts}
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		problems = append(problems, fmt.Sprintf("the answer %d %s is not one the document gives: %v", status, truncate(string(body)), err))
	}
	if reqErr != nil && (status < 400 || status >= 500) {
		problems = append(problems, fmt.Sprintf("the document refuses the request (%v), but the server answered %d", reqErr, status))
	}
	if doc := route.Operation.Responses.Status(status); doc != nil && doc.Value != nil {
		for _, h := range controlledHeaders {
			if len(header.Values(h)) > 0 && !hasHeader(doc.Value.Headers, h) {
				problems = append(problems, fmt.Sprintf("the answer %d sends %s, which the document does not give it", status, h))
			}
		}
		if len(doc.Value.Content) == 0 && len(body) > 0 {
			problems = append(problems, fmt.Sprintf("the answer %d has a body, which the document does not give it: %s", status, truncate(string(body))))
		}
	}
	return problems
}

func hasHeader(hs openapi3.Headers, name string) bool {
	for k := range hs {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}

// checkUnrouted checks the answer to a path or method the document does
// not have: the API's own 404 or 405, or 403 cross_origin for an unsafe
// method, refused before any routing; always an Error.
func (c *contract) checkUnrouted(req *http.Request, routeErr error, status int, header http.Header, body []byte) []string {
	want, code := http.StatusNotFound, "not_found"
	if errors.Is(routeErr, routers.ErrMethodNotAllowed) {
		want, code = http.StatusMethodNotAllowed, "method_not_allowed"
	}
	safe := req.Method == http.MethodGet || req.Method == http.MethodHead || req.Method == http.MethodOptions
	if status == http.StatusForbidden && !safe {
		code = "cross_origin"
	} else if status != want {
		return []string{fmt.Sprintf("the document has no %s %s, so the server must answer %d %s; it answered %d %s",
			req.Method, req.URL.Path, want, code, status, truncate(string(body)))}
	}
	var problems []string
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		problems = append(problems, fmt.Sprintf("the answer %d is not JSON: %q", status, truncate(string(body))))
	} else if err := c.doc.Components.Schemas["Error"].Value.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
		problems = append(problems, fmt.Sprintf("the answer %d is not an Error: %v", status, err))
	} else if got := v.(map[string]any)["error"]; got != code {
		problems = append(problems, fmt.Sprintf("the answer %d says %v, want %s", status, got, code))
	}
	if status == http.StatusMethodNotAllowed {
		allowed := req.Clone(context.Background())
		allowed.Method = header.Get("Allow")
		if _, _, err := c.router.FindRoute(allowed); err != nil {
			problems = append(problems, fmt.Sprintf("the answer 405 allows %q, which the document does not have for the path", allowed.Method))
		}
	}
	return problems
}

// TestOpenAPIServed: the API serves its document, publicly and with the
// security headers; kin-openapi loads and validates it; and its paths are
// exactly the API's routes, method for method.
func TestOpenAPIServed(t *testing.T) {
	e := newEnv(t, false)
	r := do(t, &http.Client{}, "GET", e.srv.URL+web.APIPrefix+"openapi.json", "", "")
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET openapi.json: %d %q", r.status, r.header.Get("Content-Type"))
	}
	if r.raw != string(web.OpenAPI()) {
		t.Fatal("the served document is not the embedded one")
	}
	for _, h := range []string{"X-Content-Type-Options", "Cache-Control"} {
		if r.header.Get(h) == "" {
			t.Errorf("GET openapi.json: no %s", h)
		}
	}

	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData([]byte(r.raw))
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("the document does not validate: %v", err)
	}
	if doc.OpenAPI != "3.1.0" || !doc.IsOpenAPI31OrLater() {
		t.Errorf("openapi %q, want 3.1.0", doc.OpenAPI)
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL+"/" != web.APIPrefix {
		t.Errorf("servers %v, want the one at %s", doc.Servers, web.APIPrefix)
	}

	var documented []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+strings.TrimPrefix(path, "/"))
		}
	}
	slices.Sort(documented)
	served := web.APIRoutes(e.auth)
	if len(served) < 25 {
		t.Fatalf("only %d routes found: %v", len(served), served)
	}
	for _, rt := range served {
		if !slices.Contains(documented, rt) {
			t.Errorf("the API serves %s, which the document leaves out", rt)
		}
	}
	for _, op := range documented {
		if !slices.Contains(served, op) {
			t.Errorf("the document has %s, which the API does not serve", op)
		}
	}
}

// TestContractTransport: the checks themselves catch what they are for. A
// stand-in for the API answers in ways the document does not allow; each
// must be reported.
func TestContractTransport(t *testing.T) {
	const user = `{"id":1,"username":"alice","display_name":"Alice","created_at":"2026-01-02T03:04:05Z"}`
	answers := map[string]struct {
		status int
		header []string
		body   string
	}{
		"GET /api/auth/me":           {200, nil, `{"user":` + user + "}\n"},
		"GET /api/auth/factors":      {200, nil, `{"totp":false}`},
		"POST /api/auth/login":       {200, nil, `{"user":` + user + `,"expires_at":"2026-01-02T03:04:05Z","extra":1}`},
		"POST /api/auth/register":    {201, nil, `{"user":` + user + "}"},
		"POST /api/auth/logout":      {204, []string{"Retry-After", "1"}, ""},
		"POST /api/auth/reauth":      {429, nil, `{"error":"rate_limited","message":"Wait."}`},
		"DELETE /api/auth/totp":      {418, nil, `{"error":"internal","message":"Teapot."}`},
		"GET /api/auth/nothing":      {200, nil, `{}`},
		"GET /api/auth/logout":       {405, []string{"Allow", "GET"}, `{"error":"method_not_allowed","message":"No."}`},
		"POST /api/auth/totp/enroll": {401, nil, `{"error":"unauthenticated","message":"No.","field":"password"}`},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := answers[r.Method+" "+r.URL.Path]
		if !ok {
			http.Error(w, "no answer for "+r.Method+" "+r.URL.Path, http.StatusTeapot)
			return
		}
		for i := 0; i+1 < len(a.header); i += 2 {
			w.Header().Set(a.header[i], a.header[i+1])
		}
		if a.body != "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(a.status)
		io.WriteString(w, a.body)
	}))
	defer srv.Close()
	cookie := []string{"Cookie", web.CookieName + "=" + strings.Repeat("a", 43)}
	for _, tc := range []struct {
		name, method, path, ctype, body string
		headers                         []string
		want                            string // in the problem reported; "" for none
	}{
		{"a documented answer", "GET", "me", "", "", cookie, ""},
		{"a field missing", "GET", "factors", "", "", cookie, "not one the document gives"},
		{"a field too many", "POST", "login", "application/json", creds("alice", pw), nil, "not one the document gives"},
		{"a refused request answered 2xx", "POST", "register", "application/json", `{"username":"a","password":"b","remember":true}`, nil, "the document refuses the request"},
		{"a header the answer does not have", "POST", "logout", "", "", nil, "sends Retry-After"},
		{"a header the answer must have", "POST", "reauth", "application/json", `{"password":"x"}`, cookie, "not one the document gives"},
		{"an undocumented status", "DELETE", "totp", "", "", cookie, "status is not supported"},
		{"an undocumented path", "GET", "nothing", "", "", nil, "must answer 404"},
		{"an Allow the document does not have", "GET", "logout", "", "", nil, "allows \"GET\""},
		{"a field only policy errors have", "POST", "totp/enroll", "", "", cookie, "not one the document gives"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var problems []string
			c := checkedClient(&http.Client{}, func(p string) { problems = append(problems, p) })
			req, _ := http.NewRequest(tc.method, srv.URL+web.APIPrefix+tc.path, strings.NewReader(tc.body))
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			for i := 0; i+1 < len(tc.headers); i += 2 {
				req.Header.Set(tc.headers[i], tc.headers[i+1])
			}
			res, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			switch {
			case tc.want == "" && len(problems) > 0:
				t.Fatalf("problems reported for a documented exchange: %q", problems)
			case tc.want != "" && !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tc.want) }):
				t.Fatalf("want a problem saying %q; got %q", tc.want, problems)
			}
		})
	}
}

// TestOpenAPIEveryOperation sends every operation of the document to the
// API once, so that each is held to the document at least once whatever
// the other tests cover: a signed-in user of its own for each (bearer), a
// small valid body where it takes one, on a server with TOTP and without
// passkeys. Every GET is sent as HEAD too, which must answer alike.
func TestOpenAPIEveryOperation(t *testing.T) {
	e := newEnvWith(t, false, localauth.Config{
		SecretKey: []byte(rand.Text() + rand.Text()), TOTP: mfa.TOTP{},
		Throttle: localauth.ThrottleConfig{Disabled: true},
	})
	c, err := apiContract()
	if err != nil {
		t.Fatal(err)
	}
	bodies := map[string]string{
		"register":                  creds("newcomer", pw),
		"login":                     creds("%s", pw),
		"token":                     creds("%s", pw),
		"changePassword":            `{"current_password":"` + pw + `","new_password":"another long passphrase"}`,
		"session":                   `{"code":"not-a-code"}`,
		"deviceFromLiveLogin":       `{"code":"not-a-code"}`,
		"reauth":                    `{"password":"` + pw + `"}`,
		"loginSecondStep":           `{"mfa_token":"not-a-token","code":"123456"}`,
		"tokenSecondStep":           `{"mfa_token":"not-a-token","recovery_code":"aaaaa-bbbbb"}`,
		"confirmTOTP":               `{"code":"123456"}`,
		"finishPasskeyRegistration": `{"name":"laptop","credential":{}}`,
		"finishPasskeyLogin":        `{"credential":{}}`,
		"forgotPassword":            `{"username":"%s"}`,
		"resetPassword":             `{"token":"not-a-token","new_password":"another long passphrase"}`,
		"setEmail":                  `{"email":"someone@example.com"}`,
		"verifyEmail":               `{"token":"not-a-token"}`,
		"setSignInAlerts":           `{"enabled":false}`,
	}
	type operation struct{ method, path, id string }
	var ops []operation
	for path, item := range c.doc.Paths.Map() {
		for method, op := range item.Operations() {
			ops = append(ops, operation{method, path, op.OperationID})
			if _, ok := bodies[op.OperationID]; !ok && op.RequestBody != nil {
				t.Errorf("%s %s takes a body: give it one here", method, path)
			}
		}
	}
	slices.SortFunc(ops, func(a, b operation) int { return strings.Compare(a.path+a.method, b.path+b.method) })
	ctx := localauth.WithClientIP(t.Context(), "192.0.2.1")
	for i, op := range ops {
		name := fmt.Sprintf("user%d", i)
		if _, err := e.svc.Register(ctx, name, pw); err != nil {
			t.Fatal(err)
		}
		res, err := e.svc.Login(ctx, name, pw)
		if err != nil {
			t.Fatal(err)
		}
		url := e.srv.URL + strings.TrimSuffix(web.APIPrefix, "/") + strings.ReplaceAll(op.path, "{id}", "AAAAAAAAAAAAAAAAAAAAAA")
		ctype, body := "", bodies[op.id]
		if body != "" {
			ctype, body = "application/json", strings.ReplaceAll(body, "%s", name)
		}
		bearer := []string{"Authorization", "Bearer " + string(res.Token)}
		r := do(t, &http.Client{}, op.method, url, ctype, body, bearer...)
		if r.status >= 500 {
			t.Errorf("%s %s: %d %s", op.method, op.path, r.status, r.raw)
		}
		if op.method == http.MethodGet {
			if h := do(t, &http.Client{}, http.MethodHead, url, "", "", bearer...); h.status != r.status || h.raw != "" {
				t.Errorf("HEAD %s: %d %q; GET: %d", op.path, h.status, h.raw, r.status)
			}
		}
	}
	if len(ops) < 25 {
		t.Fatalf("only %d operations in the document", len(ops))
	}
}

// TestREADMEMatchesOpenAPI: the endpoint tables of the README's
// "Server-side mode" section summarize the document, so they name exactly
// its operations, and every status and error code a row gives is one the
// document gives for that operation (405, which every endpoint answers to
// another method, aside).
func TestREADMEMatchesOpenAPI(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(readme), "\n## Server-side mode")
	section, _, _ = strings.Cut(section, "\n## ")
	var doc struct {
		Paths      map[string]map[string]json.RawMessage
		Components struct {
			Responses map[string]json.RawMessage
			Schemas   struct{ ErrorCode struct{ Enum []string } }
		}
	}
	if err := json.Unmarshal(web.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	// responses returns an operation's documented answers: status → the
	// error codes it may carry (none for a success).
	responses := func(method, path string) map[string][]string {
		var op struct{ Responses map[string]json.RawMessage }
		if err := json.Unmarshal(doc.Paths[path][strings.ToLower(method)], &op); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		out := map[string][]string{}
		for st, raw := range op.Responses {
			var r struct {
				Ref     string `json:"$ref"`
				Content map[string]struct {
					Schema struct {
						Properties struct{ Error struct{ Enum []string } }
					}
				}
			}
			json.Unmarshal(raw, &r)
			if name, ok := strings.CutPrefix(r.Ref, "#/components/responses/"); ok {
				json.Unmarshal(doc.Components.Responses[name], &r)
			}
			out[st] = r.Content["application/json"].Schema.Properties.Error.Enum
		}
		return out
	}

	endpoint := regexp.MustCompile("^`(GET|POST|DELETE) " + regexp.QuoteMeta(strings.TrimSuffix(web.APIPrefix, "/")) + "(/[^`]*)`(?:, `(/[^`]*)`)?")
	token := regexp.MustCompile("\\b[1-5][0-9][0-9]\\b|`[a-z_]+`")
	inREADME := map[string]bool{}
	for line := range strings.SplitSeq(section, "\n") {
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		m := endpoint.FindStringSubmatch(strings.TrimSpace(cells[0]))
		if m == nil || len(cells) != 4 {
			continue
		}
		paths := []string{m[2]}
		if m[3] != "" {
			paths = append(paths, m[3])
		}
		for _, path := range paths {
			op := m[1] + " " + path
			inREADME[op] = true
			documented, ok := doc.Paths[path][strings.ToLower(m[1])]
			if !ok || documented == nil {
				t.Errorf("README: %s is not in the document", op)
				continue
			}
			answers := responses(m[1], path)
			for _, st := range token.FindAllString(cells[2], -1) {
				if _, ok := answers[st]; !ok && !strings.HasPrefix(st, "`") {
					t.Errorf("README: %s succeeds with %s, which the document does not give", op, st)
				}
			}
			status := ""
			for _, tok := range token.FindAllString(cells[3], -1) {
				code, isCode := strings.CutPrefix(tok, "`")
				code = strings.TrimSuffix(code, "`")
				switch {
				case !isCode:
					status = tok
					if _, ok := answers[status]; !ok && status != "405" {
						t.Errorf("README: %s fails with %s, which the document does not give", op, status)
					}
				case !slices.Contains(doc.Components.Schemas.ErrorCode.Enum, code):
					// another word in backquotes, such as `field`
				case status != "" && !slices.Contains(answers[status], code):
					t.Errorf("README: %s fails with %s %s, which the document does not give", op, status, code)
				}
			}
		}
	}
	for path, item := range doc.Paths {
		for method := range item {
			if op := strings.ToUpper(method) + " " + path; !inREADME[op] {
				t.Errorf("the README's tables leave out %s", op)
			}
		}
	}
	if len(inREADME) < 25 {
		t.Fatalf("only %d endpoints found in the README's tables", len(inREADME))
	}
}
