package survey

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/truncheck/truncheck/results"
)

// Account reads a server's access-log line as its account of the
// request (the account protocol's shape, package harness/account):
// what the server believed it sent. promised is the body length the
// server was bound to send (the file's size; for a proxy, the length its
// upstream promised), or -1 when nothing fixed one. It returns nil when
// the line cannot say whether the server believed it finished:
//
//   - the server's word that it did not finish ([Request.End] cut) is
//     noticed;
//   - so is a byte count short of promised: the log itself shows the
//     response was cut, whatever its completion field says (nginx logs
//     $request_completion OK for a proxied body its upstream cut short);
//     a count of bytes sent head included (squid) is short only when it is
//     below the body alone;
//   - otherwise the server's word that it finished, or its body bytes
//     reaching promised, is complete: it believed it sent everything;
//   - anything else (no word on the end, and no length to hold a body
//     count against, or only a head-included count) is nil: unknown.
//
// Silence claimed from a log is therefore what the log proves, and
// unknown everywhere else.
func (r Request) Account(promised int64) *results.Account {
	acc := &results.Account{RequestID: r.ID, Method: r.Method, Path: r.Target, Status: r.Status,
		ContentLength: -1, BytesWritten: r.BodyBytes, Finished: true, Source: "access log: " + r.Line}
	if promised >= 0 {
		acc.ContentLength = promised
	}
	if acc.BytesWritten < 0 && r.WireBytes >= 0 {
		acc.BytesWritten = r.WireBytes
		acc.Source = "access log (bytes sent, head included): " + r.Line
	}
	bodyShort := promised >= 0 && r.BodyBytes >= 0 && r.BodyBytes < promised
	wireShort := promised >= 0 && r.BodyBytes < 0 && r.WireBytes >= 0 && r.WireBytes < promised
	switch {
	case r.End == EndCut:
		acc.WriteError = fmt.Sprintf("the log says the response did not finish (state %q)", r.State)
	case bodyShort:
		acc.WriteError = fmt.Sprintf("the log counts %d body bytes of %d", r.BodyBytes, promised)
	case wireShort:
		acc.WriteError = fmt.Sprintf("the log counts %d bytes sent, head included, of a %d-byte body", r.WireBytes, promised)
	case r.End == EndComplete:
		acc.Complete = true
	case promised >= 0 && r.BodyBytes >= 0:
		acc.Complete = true // every promised byte, by its own count
	default:
		return nil
	}
	return acc
}

// LogAccounts returns a function that reads the account of a request id
// from the access logs of an instance of s (logs: Instance.Logs), for
// harness.Target.Accounts. An id it has not seen yet makes it read the
// logs again, whole: they are small, and a log is not always only
// appended to (a process that lost O_APPEND writes over it). A partial
// last line waits for its end. promised gives the body length a logged
// target was bound to send (see [Promised]). No line for the id yet is
// (nil, nil): the harness asks again until its wait ends, then leaves
// silence unknown.
func LogAccounts(s Server, logs Logs, promised func(target string) int64) func(ctx context.Context, id string) (*results.Account, error) {
	la := &logAccounts{s: s, files: logs.Access, promised: promised, byID: map[string]Request{}}
	return la.account
}

// Accounts is LogAccounts for this instance, with [Promised].
func (in *Instance) Accounts() func(ctx context.Context, id string) (*results.Account, error) {
	return LogAccounts(in.Server, in.Logs(), Promised)
}

type logAccounts struct {
	s        Server
	files    []string
	promised func(string) int64

	mu   sync.Mutex
	byID map[string]Request // the last line of each request id
}

func (la *logAccounts) account(_ context.Context, id string) (*results.Account, error) {
	if la.s.parse == nil || id == "" {
		return nil, nil
	}
	la.mu.Lock()
	defer la.mu.Unlock()
	if _, ok := la.byID[id]; !ok {
		if err := la.read(); err != nil {
			return nil, err
		}
	}
	r, ok := la.byID[id]
	if !ok {
		return nil, nil
	}
	promised := int64(-1)
	if la.promised != nil {
		promised = la.promised(r.Target)
	}
	return r.Account(promised), nil
}

// read parses every whole line of every log; lines already seen keep
// their place.
func (la *logAccounts) read() error {
	var errs []error
	for _, path := range la.files {
		f, err := os.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		br := bufio.NewReaderSize(f, 64<<10)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				break // EOF, and a partial last line: read again once it is whole
			}
			if r, ok := la.s.parse(strings.TrimRight(line, "\r\n")); ok && r.ID != "" {
				la.byID[r.ID] = r
			}
		}
		f.Close()
	}
	return errors.Join(errs...)
}

// Promised is the body length a request target of the survey's bound the
// server to send: n for .../bytes/n (a file here, or the length the
// upstream promised a proxy, the cutting upstream's /cut-cl/ included),
// and -1 for the close-delimited upstream (nothing promised a length)
// and anything else.
func Promised(target string) int64 {
	path, _, _ := strings.Cut(target, "?")
	if strings.Contains(path, CutClosePrefix+"/") {
		return -1
	}
	i := strings.LastIndex(path, "/bytes/")
	if i < 0 {
		return -1
	}
	n, err := strconv.ParseInt(path[i+len("/bytes/"):], 10, 64)
	if err != nil || n < 0 {
		return -1
	}
	return n
}
