package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// The live rows: tabs as a browser opens them, their round trip and what
// an idle one costs the server.

// liveClient is one tab, as the bench drives it.
type liveClient struct {
	c  *websocket.Conn
	id int64
}

func dialTab(ctx context.Context, srv *benchServer, hc *http.Client) (*liveClient, error) {
	u := "ws" + strings.TrimPrefix(srv.url, "http") + "/_live"
	c, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: hc, HTTPHeader: http.Header{"Origin": {srv.url}}})
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(1 << 20)
	t := &liveClient{c: c}
	if _, err := t.roundTrip(ctx, `{"t":"hello","id":%d,"route":"/","query":"","local":{}}`); err != nil {
		c.CloseNow()
		return nil, err
	}
	return t, nil
}

// roundTrip sends a message (format gets the id) and waits for its reply.
func (t *liveClient) roundTrip(ctx context.Context, format string) (time.Duration, error) {
	t.id++
	msg := fmt.Sprintf(format, t.id)
	t0 := time.Now()
	if err := t.c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		return 0, err
	}
	want := fmt.Sprintf(`"id":%d,`, t.id)
	for {
		_, b, err := t.c.Read(ctx)
		if err != nil {
			return 0, err
		}
		if strings.Contains(string(b), want) {
			var m struct{ T string }
			json.Unmarshal(b, &m)
			if m.T != "update" {
				return 0, fmt.Errorf("bench: live reply %s", b)
			}
			return time.Since(t0), nil
		}
	}
}

func dialTabs(ctx context.Context, srv *benchServer, n int) ([]*liveClient, error) {
	hc := httpClient(n)
	tabs := make([]*liveClient, n)
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i := range tabs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			t, err := dialTab(ctx, srv, hc)
			if err != nil {
				select {
				case errc <- err:
				default:
				}
				return
			}
			tabs[i] = t
		})
	}
	wg.Wait()
	select {
	case err := <-errc:
		closeTabs(tabs)
		return nil, err
	default:
	}
	return tabs, nil
}

func closeTabs(tabs []*liveClient) {
	for _, t := range tabs {
		if t != nil {
			t.c.CloseNow()
		}
	}
}

func (b *bench) liveRTT(ctx context.Context, srv *benchServer) error {
	tabs, err := dialTabs(ctx, srv, 1000)
	if err != nil {
		return err
	}
	defer closeTabs(tabs)
	// Each tab sends one event a second, staggered: 1,000 events/s in all.
	ctx, cancel := context.WithTimeout(ctx, b.dur+2*time.Second)
	defer cancel()
	var mu sync.Mutex
	var lat []time.Duration
	var failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i, t := range tabs {
		wg.Go(func() {
			next := start.Add(time.Duration(i) * time.Millisecond)
			var mine []time.Duration
			for time.Until(next) > -time.Second && next.Sub(start) < b.dur {
				time.Sleep(time.Until(next))
				d, err := t.roundTrip(ctx, `{"t":"event","id":%d,"name":"login.redir"}`)
				if err != nil {
					failed.Add(1)
					break
				}
				mine = append(mine, d)
				next = next.Add(time.Second)
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if failed.Load() > 0 {
		return fmt.Errorf("bench: %d live tabs failed during the round-trip row", failed.Load())
	}
	p99 := pct(lat, .99)
	b.add(benchRow{name: "live: event round trip p99, 1,000 tabs at 1,000 ev/s", measured: p99.Round(10 * time.Microsecond).String(),
		goal: "≤ 5ms", pass: p99 <= 5*time.Millisecond,
		note: fmt.Sprintf("%d events, %.0f/s, p50 %v", len(lat), float64(len(lat))/b.dur.Seconds(), pct(lat, .5).Round(10*time.Microsecond))})
	return nil
}

func (b *bench) liveRSS(ctx context.Context, srv *benchServer) error {
	time.Sleep(time.Second)
	before, err := srv.rss()
	if err != nil {
		return err
	}
	tabs, err := dialTabs(ctx, srv, b.tabs)
	if err != nil {
		return err
	}
	defer closeTabs(tabs)
	time.Sleep(2 * time.Second)
	after, err := srv.rss()
	if err != nil {
		return err
	}
	per := float64(after-before) / float64(b.tabs)
	b.add(benchRow{name: fmt.Sprintf("live: RSS per hydrated idle tab, %d tabs", b.tabs), measured: fmt.Sprintf("%.1f KiB", per/1024),
		goal: "≤ 16 KiB", pass: per <= 16<<10, note: fmt.Sprintf("RSS %s before, %s with the tabs open", mib(before), mib(after))})
	return nil
}
