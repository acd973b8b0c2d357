package imagesvc

import (
	"context"
	"errors"
	"sync"
)

// errAbandoned ends work whose every caller has given up.
var errAbandoned = errors.New("imagesvc: every caller of this transform has gone")

// flight runs transforms on goroutines of their own so that a caller can
// give up at once (its client left, its budget ran out) while the work winds
// down behind it, and shares one transform between concurrent identical
// requests. Work is cancelled when the last caller waiting for it gives up,
// never while another still waits. The work holds its worker slot until it
// has really stopped (libvips' kill flag: within a tile), so the slots keep
// counting the cores in use.
type flight struct {
	mu    sync.Mutex
	calls map[string]*flightCall
	wg    sync.WaitGroup // work still running
}

type flightCall struct {
	done    chan struct{}
	res     *result
	err     error
	waiters int
	cancel  context.CancelCauseFunc
}

func newFlight() *flight { return &flight{calls: make(map[string]*flightCall)} }

// do runs fn once for concurrent callers with the same key ("" never
// shares). fn's context carries ctx's values but not its cancellation: it ends
// when every caller has given up. A caller that gives up gets ctx's cause.
func (f *flight) do(ctx context.Context, key string, fn func(context.Context) (*result, error)) (*result, error) {
	f.mu.Lock()
	c := f.calls[key]
	if c == nil {
		wctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
		c = &flightCall{done: make(chan struct{}), cancel: cancel}
		if key != "" {
			f.calls[key] = c
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			res, err := fn(wctx)
			f.mu.Lock()
			if f.calls[key] == c {
				delete(f.calls, key)
			}
			c.res, c.err = res, err
			f.mu.Unlock()
			close(c.done)
			cancel(nil)
		}()
	}
	c.waiters++
	f.mu.Unlock()
	select {
	case <-c.done:
		return c.res, c.err
	case <-ctx.Done():
	}
	f.mu.Lock()
	c.waiters--
	if c.waiters == 0 {
		if f.calls[key] == c {
			delete(f.calls, key) // a newcomer starts afresh
		}
		c.cancel(errAbandoned)
	}
	f.mu.Unlock()
	return nil, context.Cause(ctx)
}

// wait blocks until every piece of work has returned.
func (f *flight) wait() { f.wg.Wait() }
