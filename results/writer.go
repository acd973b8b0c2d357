package results

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Encoder writes one record; see [NewEncoder]. The vegeta shape: a function
// value, easy to wrap.
type Encoder func(*Record) error

// NewEncoder returns an [Encoder] writing each record as one JSON line to w.
// Each record is marshalled whole before any byte reaches w, so a record
// that fails to marshal (an invalid outcome) leaves w untouched.
func NewEncoder(w io.Writer) Encoder {
	return func(r *Record) error {
		line, err := marshalLine(r)
		if err != nil {
			return err
		}
		_, err = w.Write(line)
		return err
	}
}

func marshalLine(r *Record) ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode record %s #%d: %w", r.Scenario, r.Seq, err)
	}
	return append(b, '\n'), nil
}

// WriterConfig tunes a [Writer]. The zero value is what a soak wants.
type WriterConfig struct {
	// SyncEvery is the longest time a written record may sit in the page
	// cache before it is fsynced. 0 => 1s.
	SyncEvery time.Duration
}

// Writer appends records to a JSON Lines file as a run goes. It is safe for
// concurrent use. Each record goes to the file in one write(2) before Write
// returns (no user-space buffer: a record a caller was told is written is in
// the kernel's hands, so a process killed with SIGKILL loses none of them);
// a background goroutine fsyncs at most every [WriterConfig.SyncEvery] when
// something was written, so a machine that loses power loses at most that
// much. A kill mid-write leaves at worst one torn last line, which [Read]
// skips with a warning. Close syncs, stops the goroutine and waits for it.
type Writer struct {
	path string

	mu    sync.Mutex
	f     *os.File
	dirty bool  // written since the last sync
	err   error // sticky: the first write, flush or sync error
	n     int64 // records written
	done  bool

	stop chan struct{}
	wg   sync.WaitGroup
}

// ErrClosed is returned by [Writer.Write] after [Writer.Close].
var ErrClosed = errors.New("results: writer closed")

// NewWriter opens path for appending (creating it, mode 0644) and starts the
// sync goroutine. If the file ends in a torn line (a previous run was
// killed mid-write), the torn tail is cut off first so new records do not
// glue onto it and turn it into corruption in the middle of the file.
func NewWriter(path string, cfg WriterConfig) (*Writer, error) {
	if cfg.SyncEvery < 0 {
		return nil, fmt.Errorf("results writer %s: SyncEvery %v (accepted: 0 for 1s, or > 0)", path, cfg.SyncEvery)
	}
	if cfg.SyncEvery == 0 {
		cfg.SyncEvery = time.Second
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("results writer: %w", err)
	}
	err = cutTornTail(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("results writer %s: %w", path, err)
	}
	// Append mode from here: every record lands at the end in one write(2),
	// so lines stay whole even if another process appends too.
	f, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, fmt.Errorf("results writer: %w", err)
	}
	w := &Writer{path: path, f: f, stop: make(chan struct{})}
	w.wg.Add(1)
	go w.syncLoop(cfg.SyncEvery)
	return w, nil
}

// cutTornTail truncates f after its last newline.
func cutTornTail(f *os.File) error {
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil || size == 0 {
		return err
	}
	// Look back in blocks for the last '\n'.
	const block = 64 << 10
	buf := make([]byte, block)
	end := size
	for end > 0 {
		start := max(end-block, 0)
		n, err := f.ReadAt(buf[:end-start], start)
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			end = start + int64(i) + 1
			break
		}
		end = start
	}
	if end == size {
		return nil
	}
	return f.Truncate(end)
}

// Path returns the file's path.
func (w *Writer) Path() string { return w.path }

// Write appends one record. The record is marshalled whole before it is
// written, so a bad record (an invalid outcome) is an error and leaves the
// file untouched. After the first I/O error every Write returns it.
func (w *Writer) Write(r *Record) error {
	line, err := marshalLine(r)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return ErrClosed
	}
	if w.err != nil {
		return w.err
	}
	if _, err := w.f.Write(line); err != nil {
		w.err = fmt.Errorf("results writer %s: %w", w.path, err)
		return w.err
	}
	w.dirty = true
	w.n++
	return nil
}

// Count returns how many records were written.
func (w *Writer) Count() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

func (w *Writer) syncLoop(every time.Duration) {
	defer w.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
			_ = w.Sync() // the error is sticky and surfaces on Write/Close
		}
	}
}

// Sync fsyncs the file, if anything was written since the last sync.
func (w *Writer) Sync() error {
	w.mu.Lock()
	if w.err != nil || !w.dirty || w.f == nil {
		err := w.err
		w.mu.Unlock()
		return err
	}
	w.dirty = false
	f := w.f
	w.mu.Unlock()
	// fsync outside the lock: it can take milliseconds, writers need not wait.
	if err := f.Sync(); err != nil && !errors.Is(err, os.ErrClosed) {
		w.mu.Lock()
		if w.err == nil {
			w.err = fmt.Errorf("results writer %s: fsync: %w", w.path, err)
		}
		err = w.err
		w.mu.Unlock()
		return err
	}
	return nil
}

// Close stops the sync goroutine and waits for it, then fsyncs and closes
// the file. It returns the first error the writer met. Calling
// Close twice returns nil the second time.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.done {
		w.mu.Unlock()
		return nil
	}
	w.done = true
	w.mu.Unlock()
	close(w.stop)
	w.wg.Wait()

	w.mu.Lock()
	defer w.mu.Unlock()
	err := w.err
	if serr := w.f.Sync(); serr != nil && err == nil {
		err = fmt.Errorf("results writer %s: fsync: %w", w.path, serr)
	}
	if cerr := w.f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("results writer %s: close: %w", w.path, cerr)
	}
	w.f = nil
	return err
}
