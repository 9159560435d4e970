package live

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"html/template"
	"net/http"
)

//go:embed client.js
var clientJS []byte

var layout = template.Must(template.New("layout").Parse(`<!doctype html>
<html lang="en" data-live-local="{{.Locals}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
{{.Head}}
<script src="/_live/live.js" defer></script>
</head>
<body>
<div id="live-status" role="status" hidden></div>
<main id="live-root" data-route="{{.Route}}">
{{.Body}}
</main>
</body>
</html>
`))

type layoutData struct {
	Title  string
	Head   template.HTML
	Route  string
	Locals string
	Body   template.HTML
}

var notFoundBody = template.HTML(`<section class="card"><h1>Page not found</h1><p><a href="/">Go to the home page</a></p></section>`)

func (a *App) servePage(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p, ok := a.pages[r.URL.Path]
	status := http.StatusOK
	if !ok {
		p, status = page{title: "Page not found", body: notFoundBody}, http.StatusNotFound
	}
	locals, _ := json.Marshal(a.locals)
	if a.locals == nil {
		locals = []byte("[]")
	}
	var buf bytes.Buffer
	err := layout.Execute(&buf, layoutData{
		Title:  p.title,
		Head:   a.cfg.Head,
		Route:  r.URL.Path,
		Locals: string(locals),
		Body:   p.body,
	})
	if err != nil {
		a.log.Error("live: rendering a page", "route", r.URL.Path, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}
