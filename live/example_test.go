package live_test

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"

	"github.com/localauth/localauth/live"
)

// Counter is a substate: one variable synced to the page, one kept on the
// server.
type Counter struct {
	N     int    `live:"n"`
	Owner string `live:"owner,server"`
}

// A page with a counter: the button's click runs counter.increment on the
// server, and the page's span follows counter.n.
func Example() {
	app := live.New(live.Config{})
	app.State("counter", func() any { return &Counter{} })
	app.Handle("counter.increment", func(ctx context.Context, t *live.Tab, ev live.Event) error {
		live.Get[Counter](t, "counter").N++
		return nil
	})
	app.Page("/", "Counter", `<p>Clicked <span data-text="counter.n">0</span> times</p>
<button data-on-click="counter.increment">Click</button>`)

	srv := httptest.NewServer(app) // the page, its script and the websocket at /_live
	defer srv.Close()
	res, err := srv.Client().Get(srv.URL + "/")
	if err != nil {
		panic(err)
	}
	defer res.Body.Close()
	page, _ := io.ReadAll(res.Body)
	fmt.Println(res.StatusCode, strings.Contains(string(page), `<script src="/_live/live.js" defer>`))
	fmt.Println(app.Routes())
	// Output:
	// 200 true
	// [/]
}
