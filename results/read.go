package results

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// MaxLineBytes caps one JSON line when reading, so a file that is not
// JSON Lines (or a runaway line) fails with an error instead of eating
// memory. Records with long timelines stay far below it.
const MaxLineBytes = 16 << 20

// Warning is a problem a reader survived, e.g. a torn last line left by a
// process killed mid-write. It names the file and line.
type Warning struct {
	File string
	Line int
	Msg  string
}

// String renders "file:line: msg".
func (w Warning) String() string { return fmt.Sprintf("%s:%d: %s", w.File, w.Line, w.Msg) }

// ErrLineTooLong is returned (wrapped, with file and line) for a line over
// [MaxLineBytes].
var ErrLineTooLong = errors.New("line too long")

// Decoder reads the next record; it returns io.EOF at the end. See
// [NewDecoder].
type Decoder func(*Record) error

// NewDecoder returns a [Decoder] over JSON Lines from r. name is used in
// errors and warnings (a file name, or "-"). Blank lines are skipped. A
// line that fails to parse is an error naming the file and line, except
// the last line when it lacks its newline: that is a torn write, skipped,
// and reported through warn (if non-nil).
func NewDecoder(r io.Reader, name string, warn func(Warning)) Decoder {
	br := bufio.NewReaderSize(r, 64<<10)
	line := 0
	return func(rec *Record) error {
		for {
			b, err := readLine(br)
			if len(b) == 0 && err != nil {
				if errors.Is(err, io.EOF) {
					return io.EOF
				}
				return fmt.Errorf("%s:%d: %w", name, line+1, err)
			}
			line++
			torn := err != nil // no newline: the last line, possibly cut short
			if err != nil && !errors.Is(err, io.EOF) {
				return fmt.Errorf("%s:%d: %w", name, line, err)
			}
			b = bytes.TrimSpace(b)
			if len(b) == 0 {
				continue
			}
			*rec = Record{}
			if derr := decodeRecord(b, rec); derr != nil {
				if torn {
					if warn != nil {
						warn(Warning{File: name, Line: line, Msg: fmt.Sprintf("torn last line (%d bytes, no newline) skipped: %v", len(b), derr)})
					}
					return io.EOF
				}
				return fmt.Errorf("%s:%d: %w", name, line, derr)
			}
			return nil
		}
	}
}

// readLine returns one line without its newline. err is io.EOF when the
// line had no newline (or there was nothing left).
func readLine(br *bufio.Reader) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		buf = append(buf, chunk...)
		if len(buf) > MaxLineBytes {
			return nil, fmt.Errorf("%w (over %d bytes)", ErrLineTooLong, MaxLineBytes)
		}
		switch {
		case err == nil:
			return buf[:len(buf)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return buf, err
		}
	}
}

func decodeRecord(b []byte, rec *Record) error {
	if err := json.Unmarshal(b, rec); err != nil {
		return fmt.Errorf("bad record: %w", err)
	}
	if err := rec.Validate(); err != nil {
		return fmt.Errorf("bad record: %w", err)
	}
	return nil
}

// Scan streams the records of r to fn, in file order, in constant memory
// (fn gets a pointer it must not keep). It returns the warnings met; an
// error from fn stops the scan and is returned.
func Scan(r io.Reader, name string, fn func(*Record) error) ([]Warning, error) {
	var warns []Warning
	dec := NewDecoder(r, name, func(w Warning) { warns = append(warns, w) })
	var rec Record
	for {
		err := dec(&rec)
		if errors.Is(err, io.EOF) {
			return warns, nil
		}
		if err != nil {
			return warns, err
		}
		if err := fn(&rec); err != nil {
			return warns, err
		}
	}
}

// ScanFile is [Scan] over a file.
func ScanFile(path string, fn func(*Record) error) ([]Warning, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	defer f.Close()
	return Scan(f, path, fn)
}

// Read decodes every record of r into memory. Use [Scan] for soak-sized
// files.
func Read(r io.Reader, name string) ([]Record, []Warning, error) {
	var out []Record
	warns, err := Scan(r, name, func(rec *Record) error {
		out = append(out, *rec)
		return nil
	})
	return out, warns, err
}

// ReadFile is [Read] over a file.
func ReadFile(path string) ([]Record, []Warning, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("results: %w", err)
	}
	defer f.Close()
	return Read(f, path)
}
