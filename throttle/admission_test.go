package throttle

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// waitQueued waits until a has n requests queued.
func waitQueued(t *testing.T, a *Admission, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for a.Queued() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d queued, want %d", a.Queued(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// mustAcquire takes a slot that must be given.
func mustAcquire(t *testing.T, a *Admission, client string) func() {
	t.Helper()
	release, wait, err := a.Acquire(context.Background(), client)
	if err != nil || release == nil {
		t.Fatalf("Acquire(%s) = release %v, wait %v, err %v; want a slot", client, release != nil, wait, err)
	}
	return release
}

// One address with several requests queued waits behind its own: another
// address's request is served after at most one of them.
func TestAdmissionRoundRobinBetweenClients(t *testing.T) {
	a := NewAdmission(1, time.Hour)
	first := mustAcquire(t, a, "A")
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	enqueue := func(client, name string, queued int) {
		wg.Go(func() {
			release, wait, err := a.Acquire(context.Background(), client)
			if release == nil {
				t.Errorf("%s: no slot: wait %v, err %v", name, wait, err)
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
// a wait, and is not queued. The budget is an hour and a hash is taken to
// last 25 minutes, so that nothing in the test can time out however slow
// the machine: two requests fit, a third does not.
func TestAdmissionRefusesBeyondBudgetAtOnce(t *testing.T) {
	a := NewAdmission(1, time.Hour)
	a.perHash = 25 * time.Minute
	hold := mustAcquire(t, a, "A")
	admitted := make(chan bool, 2)
	for _, c := range []string{"B", "C"} {
		go func() {
			release, _, _ := a.Acquire(context.Background(), c)
			if release != nil {
				release()
			}
			admitted <- release != nil
		}()
	}
	waitQueued(t, a, 2)
	release, wait, err := a.Acquire(context.Background(), "D")
	if release != nil || err != nil || wait <= 0 {
		t.Fatalf("a request beyond the budget: slot %v, wait %v, err %v; want refused with a wait", release != nil, wait, err)
	}
	if want := 75*time.Minute - time.Hour; wait != want {
		t.Fatalf("the refused request's wait: %v, want %v (three hashes less the budget)", wait, want)
	}
	if a.Queued() != 2 {
		t.Fatalf("the refused request was queued: %d waiting, want 2", a.Queued())
	}
	hold()
	for range 2 {
		if !<-admitted {
			t.Fatal("a queued request within the budget was refused")
		}
	}
}

// A queued request that waits past the budget gives up then, with a wait,
// and leaves the queue; the slot held meanwhile is not lost.
func TestAdmissionQueuedRequestTimesOut(t *testing.T) {
	a := NewAdmission(1, 50*time.Millisecond)
	a.perHash = time.Millisecond // the expected wait fits: B is queued
	hold := mustAcquire(t, a, "A")
	start := time.Now()
	release, wait, err := a.Acquire(context.Background(), "B")
	if release != nil || err != nil || wait <= 0 {
		t.Fatalf("a request held past the budget: slot %v, wait %v, err %v; want refused with a wait", release != nil, wait, err)
	}
	if took := time.Since(start); took < 50*time.Millisecond {
		t.Fatalf("refused after %v, before its budget ran out: it was never queued", took)
	}
	if a.Queued() != 0 {
		t.Fatalf("%d left queued", a.Queued())
	}
	hold()
	mustAcquire(t, a, "E")()
}

// A cancelled wait leaves the queue, and a slot is never lost.
func TestAdmissionCancel(t *testing.T) {
	a := NewAdmission(1, time.Hour)
	hold := mustAcquire(t, a, "A")
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, _, err := a.Acquire(ctx, "B")
		errc <- err
	}()
	waitQueued(t, a, 1)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: %v", err)
	}
	hold()
	hold() // a second release of the same slot is ignored
	r1 := mustAcquire(t, a, "C")
	if a.running != 1 {
		t.Fatalf("running %d, want 1", a.running)
	}
	// The one slot is taken again: a second request must queue, not run.
	ctx2, cancel2 := context.WithCancel(context.Background())
	go func() { _, _, err := a.Acquire(ctx2, "D"); errc <- err }()
	waitQueued(t, a, 1)
	cancel2()
	<-errc
	r1()
}
