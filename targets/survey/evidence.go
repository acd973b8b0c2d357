package survey

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// End is what a server's own log says about how a response ended.
type End string

// The ends a log can report.
const (
	EndUnknown  End = ""         // the log does not say
	EndComplete End = "complete" // the server says it finished the response
	EndCut      End = "cut"      // the server says it did not: client gone, timeout, upstream cut
)

// Request is one access-log line, read into the same shape for every server.
type Request struct {
	ID        string        // the X-Request-Id request header; "" when not sent or not loggable
	Method    string        // "" when not logged
	Target    string        // path and query
	Status    int           // as logged; 0 when not logged
	BodyBytes int64         // body bytes the server says it sent; -1 when not logged
	WireBytes int64         // head and body bytes it says it sent; -1 when not logged
	State     string        // the server's own word on the end (nginx $request_completion, apache %X, haproxy's termination state, squid's %Ss, ...)
	End       End           // State read: complete, cut or unknown
	Duration  time.Duration // as logged; 0 when not
	Line      string        // the raw line
}

// LogLine is an error-log line that shows the server knew something was cut.
type LogLine struct {
	File string
	Line string
}

// Evidence is what an instance's logs say after (or during) a run.
type Evidence struct {
	Requests []Request
	Errors   []LogLine
}

// Request returns the last access-log entry with request id id.
func (e Evidence) Request(id string) (Request, bool) {
	for i := len(e.Requests) - 1; i >= 0; i-- {
		if e.Requests[i].ID == id {
			return e.Requests[i], true
		}
	}
	return Request{}, false
}

// Evidence reads the instance's logs as they are now: every access-log
// line the server's parser understands, and the error-log lines (and
// stderr) that show it knew a response was cut. Logs missing because the
// server never wrote them are not an error.
func (in *Instance) Evidence() (Evidence, error) {
	return ReadEvidence(in.Server, in.p.logs)
}

// ReadEvidence reads logs written by an instance of s (Instance.Logs),
// e.g. from a results directory after the run.
func ReadEvidence(s Server, logs Logs) (Evidence, error) {
	var ev Evidence
	var errs []error
	each := func(path string, fn func(string)) {
		f, err := os.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			return
		}
		if err != nil {
			errs = append(errs, err)
			return
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			fn(sc.Text())
		}
		if err := sc.Err(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", path, err))
		}
	}
	if s.parse != nil {
		for _, path := range logs.Access {
			each(path, func(line string) {
				if r, ok := s.parse(line); ok {
					ev.Requests = append(ev.Requests, r)
				}
			})
		}
	}
	if s.errorRe != nil {
		for _, path := range append(append([]string(nil), logs.Error...), logs.Stderr, logs.Stdout) {
			if path == "" {
				continue
			}
			each(path, func(line string) {
				if s.errorRe.MatchString(line) {
					ev.Errors = append(ev.Errors, LogLine{File: path, Line: line})
				}
			})
		}
	}
	return ev, errors.Join(errs...)
}

// tsvLog is the access-log shape configured wherever the server lets us:
// tab-separated id, status, body bytes, wire bytes, method, target, state,
// duration; "-" or "" for a field the server cannot log. unit is the
// duration's unit; 0 => microseconds.
type tsvLog struct {
	end  func(state string, status int) End
	unit time.Duration
}

func (t tsvLog) parse(line string) (Request, bool) {
	f := strings.Split(line, "\t")
	if len(f) < 8 {
		return Request{}, false
	}
	for i := range f {
		f[i] = strings.TrimSpace(f[i])
		if f[i] == "-" {
			f[i] = ""
		}
	}
	r := Request{ID: f[0], Method: f[4], Target: f[5], State: f[6], BodyBytes: -1, WireBytes: -1, Line: line}
	var err error
	if f[1] != "" {
		if r.Status, err = strconv.Atoi(f[1]); err != nil {
			return Request{}, false
		}
	}
	if f[2] != "" {
		if r.BodyBytes, err = strconv.ParseInt(f[2], 10, 64); err != nil {
			return Request{}, false
		}
	}
	if f[3] != "" {
		if r.WireBytes, err = strconv.ParseInt(f[3], 10, 64); err != nil {
			return Request{}, false
		}
	}
	if f[7] != "" {
		if v, err := strconv.ParseFloat(f[7], 64); err == nil {
			unit := t.unit
			if unit == 0 {
				unit = time.Microsecond
			}
			r.Duration = time.Duration(v * float64(unit))
		}
	}
	if t.end != nil {
		r.End = t.end(r.State, r.Status)
	}
	return r, true
}

// stateIs maps a state that means complete and one that means cut; any
// other state is unknown.
func stateIs(complete, cut string) func(string, int) End {
	return func(s string, _ int) End {
		switch s {
		case complete:
			return EndComplete
		case cut:
			return EndCut
		}
		return EndUnknown
	}
}

// mustRe compiles a recipe's fixed pattern.
func mustRe(s string) *regexp.Regexp { return regexp.MustCompile(s) }
