package localauth

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// waitQueued waits until a has n requests queued.
func waitQueued(t *testing.T, a *admission, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for a.queued() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d queued, want %d", a.queued(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// One address with several requests queued waits behind its own: another
// address's request is served after at most one of them.
func TestAdmissionRoundRobinBetweenClients(t *testing.T) {
	a := newAdmission(1, time.Hour)
	first, err := a.acquire(context.Background(), "A")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	enqueue := func(client, name string, queued int) {
		wg.Go(func() {
			release, err := a.acquire(context.Background(), client)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			order = append(order, name)
			mu.Unlock()
			release()
		})
		waitQueued(t, a, queued)
	}
	enqueue("A", "A2", 1)
	enqueue("A", "A3", 2)
	enqueue("A", "A4", 3)
	enqueue("B", "B1", 4)
	first()
	wg.Wait()
	if len(order) != 4 || order[0] != "A2" || order[1] != "B1" {
		t.Fatalf("served %v; want B1 right after A's next one", order)
	}
}

// A request whose expected wait exceeds the budget is refused at once, with
// a RetryAfter; one that waits past the budget is refused then.
func TestAdmissionBudget(t *testing.T) {
	a := newAdmission(1, 600*time.Millisecond) // ~2 hashes of 250ms fit
	hold, _ := a.acquire(context.Background(), "A")
	done := make(chan error, 2)
	for _, c := range []string{"B", "C"} {
		go func() {
			release, err := a.acquire(context.Background(), c)
			if err == nil {
				release()
			}
			done <- err
		}()
	}
	waitQueued(t, a, 2)
	start := time.Now()
	_, err := a.acquire(context.Background(), "D")
	var busy *BusyError
	if !errors.As(err, &busy) || busy.RetryAfter <= 0 {
		t.Fatalf("a request beyond the budget: %v, want a *BusyError with RetryAfter", err)
	}
	if took := time.Since(start); took > 100*time.Millisecond && a.queued() != 2 {
		t.Fatalf("refusal took %v", took)
	}
	// The queued ones are not admitted while the slot is held: they give
	// up at the budget.
	for range 2 {
		if err := <-done; !errors.As(err, &busy) {
			t.Fatalf("a queued request held past the budget: %v, want *BusyError", err)
		}
	}
	if a.queued() != 0 {
		t.Fatalf("%d left queued", a.queued())
	}
	hold()
	release, err := a.acquire(context.Background(), "E")
	if err != nil {
		t.Fatalf("after the slot is free: %v", err)
	}
	release()
}

// A cancelled wait leaves the queue, and a slot is never lost.
func TestAdmissionCancel(t *testing.T) {
	a := newAdmission(1, time.Hour)
	hold, _ := a.acquire(context.Background(), "A")
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := a.acquire(ctx, "B")
		errc <- err
	}()
	waitQueued(t, a, 1)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: %v", err)
	}
	hold()
	hold() // a second release of the same slot is ignored
	r1, err := a.acquire(context.Background(), "C")
	if err != nil {
		t.Fatal(err)
	}
	if a.running != 1 {
		t.Fatalf("running %d, want 1", a.running)
	}
	r1()
}
