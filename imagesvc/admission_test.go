package imagesvc

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAdmissionQueueLimit(t *testing.T) {
	a := newAdmission(1, 2)
	holder, err := a.acquire(t.Context(), time.Millisecond, true, time.Time{})
	require.NoError(t, err)
	got := make(chan *ticket, 2)
	for range 2 { // fills the queue
		go func() {
			tk, err := a.acquire(t.Context(), time.Millisecond, true, time.Time{})
			assert.NoError(t, err)
			got <- tk
		}()
	}
	require.Eventually(t, func() bool { return a.snapshot().Queued == 2 }, 10*time.Second, time.Millisecond)

	_, err = a.acquire(t.Context(), time.Millisecond, true, time.Time{})
	var over *errOverloaded
	require.ErrorAs(t, err, &over, "a third waiter is over the limit")
	assert.Contains(t, over.reason, "2 transforms are queued")
	assert.Equal(t, int64(1), a.snapshot().RejectedFull)

	_, err = a.acquire(ctxDone(t), time.Millisecond, false, time.Time{})
	assert.ErrorIs(t, err, context.Canceled, "without shedding the same caller queues (and leaves with its context)")

	a.release(holder, true)
	a.release(<-got, true)
	a.release(<-got, true)
	s := a.snapshot()
	assert.Equal(t, 0, s.Running)
	assert.Equal(t, 0, s.Queued)
	assert.Equal(t, int64(3), s.Admitted)
}

func ctxDone(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	return ctx
}

// TestAdmissionExpectedWait: work ahead of a newcomer that would not leave
// it time within its deadline gets it refused at once, with the wait as
// Retry-After; a newcomer whose deadline allows the wait queues.
func TestAdmissionExpectedWait(t *testing.T) {
	a := newAdmission(1, 10)
	holder, err := a.acquire(t.Context(), 3*time.Second, true, time.Time{})
	require.NoError(t, err)

	_, err = a.acquire(t.Context(), 3*time.Second, true, time.Now().Add(5*time.Second))
	var over *errOverloaded
	require.ErrorAs(t, err, &over)
	assert.Contains(t, over.reason, "expected wait")
	assert.InDelta(t, 3*time.Second, over.retryAfter, float64(time.Second))
	assert.Equal(t, int64(1), a.snapshot().RejectedWait)

	queued := make(chan error, 1)
	go func() {
		tk, err := a.acquire(t.Context(), 3*time.Second, true, time.Now().Add(time.Minute))
		if err == nil {
			a.release(tk, true)
		}
		queued <- err
	}()
	require.Eventually(t, func() bool { return a.snapshot().Queued == 1 }, 10*time.Second, time.Millisecond)
	a.release(holder, false)
	require.NoError(t, <-queued)
}

// TestAdmissionLeaveQueue: a waiter whose context ends leaves the queue (its
// work never starts) and the slot goes to the next in line, in order.
func TestAdmissionLeaveQueue(t *testing.T) {
	a := newAdmission(1, 10)
	holder, err := a.acquire(t.Context(), time.Millisecond, true, time.Time{})
	require.NoError(t, err)
	leaving, leave := context.WithCancelCause(t.Context())
	cause := errors.New("client gone")
	left := make(chan error, 1)
	go func() {
		_, err := a.acquire(leaving, time.Millisecond, true, time.Time{})
		left <- err
	}()
	require.Eventually(t, func() bool { return a.snapshot().Queued == 1 }, 10*time.Second, time.Millisecond)
	var order []int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tk, err := a.acquire(t.Context(), time.Millisecond, true, time.Time{})
			if !assert.NoError(t, err) {
				return
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			a.release(tk, true)
		}()
		require.Eventually(t, func() bool { return a.snapshot().Queued == 2+i }, 10*time.Second, time.Millisecond)
	}
	leave(cause)
	assert.ErrorIs(t, <-left, cause)
	assert.Equal(t, 3, a.snapshot().Queued)
	a.release(holder, true)
	wg.Wait()
	assert.Equal(t, []int{0, 1, 2}, order, "first come, first served")
	s := a.snapshot()
	assert.Equal(t, int64(1), s.LeftQueue)
	assert.Equal(t, int64(4), s.Admitted, "the one that left never got a slot")
}

// TestAdmissionThreadsFromIdleSlots: a transform gets its own slot's thread
// and one for every slot idle when it was granted; later ones get what is
// left, at least one; only single-thread runs teach the slowdown average.
func TestAdmissionThreadsFromIdleSlots(t *testing.T) {
	a := newAdmission(3, 10)
	first, err := a.acquire(t.Context(), time.Hour, true, time.Time{})
	require.NoError(t, err)
	second, err := a.acquire(t.Context(), time.Hour, true, time.Time{})
	require.NoError(t, err)
	third, err := a.acquire(t.Context(), time.Hour, true, time.Time{})
	require.NoError(t, err)
	assert.Equal(t, []int{3, 2, 1}, []int{first.threads, second.threads, third.threads})

	queued := make(chan *ticket, 1)
	go func() {
		tk, err := a.acquire(t.Context(), time.Hour, true, time.Time{})
		assert.NoError(t, err)
		queued <- tk
	}()
	require.Eventually(t, func() bool { return a.snapshot().Queued == 1 }, 10*time.Second, time.Millisecond)
	// Every run here is far under its hour's estimate: a one-thread run moves
	// the average by its floor (0.8 * 1 + 0.2 * 0.25), a three-thread run not.
	a.release(first, true)
	assert.Equal(t, 1.0, a.snapshot().Slowdown, "three threads: not a per-core time")
	fourth := <-queued
	assert.Equal(t, 1, fourth.threads, "granted from the queue while two slots run")
	a.release(third, true)
	assert.InDelta(t, 0.85, a.snapshot().Slowdown, 1e-9, "a one-thread run teaches the average")
	a.release(second, true)
	a.release(fourth, true)
	again, err := a.acquire(t.Context(), time.Hour, true, time.Time{})
	require.NoError(t, err)
	assert.Equal(t, 3, again.threads, "an idle service again")
	a.release(again, true)
}

// TestFlightSharesAndCancelsWithLastCaller: concurrent callers share one
// piece of work; when one leaves the work goes on for the other; when every
// caller has left, the work's context ends.
func TestFlightSharesAndCancelsWithLastCaller(t *testing.T) {
	f := newFlight()
	started := make(chan struct{})
	release := make(chan struct{})
	var runs int
	work := func(ctx context.Context) (*result, error) {
		runs++
		close(started)
		select {
		case <-release:
			return &result{body: []byte("done")}, nil
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
	first, leaveFirst := context.WithCancel(t.Context())
	firstErr := make(chan error, 1)
	go func() {
		_, err := f.do(first, "k", work)
		firstErr <- err
	}()
	<-started
	second := make(chan *result, 1)
	go func() {
		r, err := f.do(t.Context(), "k", func(context.Context) (*result, error) {
			t.Error("the second caller must join, not start work")
			return nil, nil
		})
		assert.NoError(t, err)
		second <- r
	}()
	require.Eventually(t, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.calls["k"] != nil && f.calls["k"].waiters == 2
	}, 10*time.Second, time.Millisecond)
	leaveFirst()
	assert.ErrorIs(t, <-firstErr, context.Canceled)
	close(release) // the work was not cancelled: it finishes for the second caller
	assert.Equal(t, "done", string((<-second).body))
	f.wait()
	assert.Equal(t, 1, runs)

	// the twin: the only caller leaves, the work sees errAbandoned
	cause := make(chan error, 1)
	only, leaveOnly := context.WithCancel(t.Context())
	go func() {
		_, _ = f.do(only, "k2", func(ctx context.Context) (*result, error) {
			<-ctx.Done()
			cause <- context.Cause(ctx)
			return nil, ctx.Err()
		})
	}()
	require.Eventually(t, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.calls["k2"] != nil
	}, 10*time.Second, time.Millisecond)
	leaveOnly()
	assert.ErrorIs(t, <-cause, errAbandoned)
	f.wait()
}
