package httpfuzz

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// outcome is what happened to one probe.
type outcome struct {
	class   Class
	what    string
	result  string // "200", "503", ..., "closed", "timeout", "hung-up", "error"
	latency time.Duration
	problem string        // a violation, or ""
	retry   time.Duration // a 503's Retry-After
}

// Outcome names besides status codes.
const (
	resultClosed  = "closed"  // the server closed the connection without an answer
	resultTimeout = "timeout" // no answer within the probe's deadline
	resultHungUp  = "hung-up" // we closed on purpose (abandon)
	resultError   = "error"   // the connection failed otherwise
)

// maxBody bounds what a probe reads of an answer (the largest built-in
// result, a 24 MP TIFF, is 72 MB).
const maxBody = 128 << 20

// execute sends one probe on a fresh connection and judges the answer.
func execute(ctx context.Context, t Target, p *probe, timeout, budget time.Duration) outcome {
	o := outcome{class: p.class, what: p.what}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	conn, err := t.dial(dctx)
	if err != nil {
		o.result = resultError
		o.problem = "dial failed: " + err.Error()
		return o
	}
	defer conn.Close()
	stop := context.AfterFunc(dctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	conn.SetDeadline(start.Add(timeout))

	if err := send(dctx, conn, p); err != nil {
		// the server may answer (431, 400) and close before we finish
		// sending: read what it said
		if resp, body, rerr := readAnswer(conn, p); rerr == nil {
			o.latency = time.Since(start)
			judge(&o, p, resp, body, budget)
			return o
		}
		o.result = netResult(err)
		o.latency = time.Since(start)
		if p.expect == expectOK {
			o.problem = "sending failed: " + err.Error()
		}
		return o
	}
	if p.hangUpAfter > 0 {
		select {
		case <-time.After(p.hangUpAfter):
		case <-dctx.Done():
		}
		o.result = resultHungUp
		o.latency = time.Since(start)
		return o
	}
	resp, body, err := readAnswer(conn, p)
	o.latency = time.Since(start)
	if err != nil {
		o.result = netResult(err)
		switch {
		case p.expect == expectClosed && o.result == resultClosed:
		case p.expect == expectOK || p.expect == expectRefusal || p.expect == expectAny:
			o.problem = "no answer: " + o.result
		case p.expect == expectClosed:
			o.problem = "the server neither answered nor closed the connection within " + timeout.String()
		}
		return o
	}
	judge(&o, p, resp, body, budget)
	return o
}

// send writes the head (paced for slowloris) and body, then half-closes when
// asked.
func send(ctx context.Context, conn net.Conn, p *probe) error {
	if p.pace <= 0 {
		if _, err := conn.Write(append(append([]byte(nil), p.head...), p.body...)); err != nil {
			return err
		}
	} else {
		for off := 0; off < len(p.head); off += p.paceBytes {
			if _, err := conn.Write(p.head[off:min(off+p.paceBytes, len(p.head))]); err != nil {
				return err
			}
			select {
			case <-time.After(p.pace):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if _, err := conn.Write(p.body); err != nil {
			return err
		}
	}
	if p.halfClose {
		if cw, ok := conn.(interface{ CloseWrite() error }); ok {
			return cw.CloseWrite()
		}
	}
	return nil
}

// readAnswer reads one response and its whole body (bounded).
func readAnswer(conn net.Conn, p *probe) (*http.Response, []byte, error) {
	method := string(bytes.SplitN(p.head, []byte(" "), 2)[0])
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return resp, body, fmt.Errorf("body cut after %d bytes: %w", len(body), err)
	}
	if len(body) > maxBody {
		return resp, nil, fmt.Errorf("body over %d bytes", maxBody)
	}
	return resp, body, nil
}

// netResult names a failed read or write.
func netResult(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout(), errors.Is(err, context.DeadlineExceeded):
		return resultTimeout
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return resultClosed
	}
	return resultError
}

// judge records the answer's status and checks it against the service's
// promises: no 500; every error a JSON {"error", "accepted"} with a
// Content-Length; every 200 exactly as long as promised and matching its
// Content-Digest; answers within the budget (plus slack for the body);
// and the class's own expectation.
func judge(o *outcome, p *probe, resp *http.Response, body []byte, budget time.Duration) {
	o.result = strconv.Itoa(resp.StatusCode)
	problems := []string{}
	if resp.StatusCode >= 500 && resp.StatusCode != http.StatusServiceUnavailable && resp.StatusCode != http.StatusGatewayTimeout &&
		resp.StatusCode != http.StatusHTTPVersionNotSupported && resp.StatusCode != http.StatusNotImplemented && resp.StatusCode != http.StatusBadGateway {
		problems = append(problems, "server error")
	}
	if resp.StatusCode != http.StatusOK {
		var eb struct {
			Error    *string `json:"error"`
			Accepted string  `json:"accepted"`
		}
		switch {
		case resp.Header.Get("Content-Type") != "application/json":
			problems = append(problems, fmt.Sprintf("error not JSON (Content-Type %q): %.80q", resp.Header.Get("Content-Type"), body))
		case json.Unmarshal(body, &eb) != nil || eb.Error == nil:
			problems = append(problems, fmt.Sprintf("error body not {\"error\":...}: %.80q", body))
		}
		if resp.ContentLength < 0 {
			problems = append(problems, "error without Content-Length")
		}
		if resp.StatusCode == http.StatusServiceUnavailable {
			secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
			if err != nil || secs < 0 {
				problems = append(problems, fmt.Sprintf("503 without Retry-After in seconds (%q)", resp.Header.Get("Retry-After")))
			}
			o.retry = time.Duration(secs) * time.Second
		}
	} else {
		if resp.ContentLength >= 0 && int64(len(body)) != resp.ContentLength {
			problems = append(problems, fmt.Sprintf("200 with %d of %d promised bytes", len(body), resp.ContentLength))
		}
		if err := checkDigest(resp, body); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if budget > 0 && p.pace == 0 && o.latency > budget+5*time.Second {
		problems = append(problems, fmt.Sprintf("answered after %v, budget %v", o.latency.Round(time.Millisecond), budget))
	}
	switch p.expect {
	case expectOK:
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusServiceUnavailable && resp.StatusCode != http.StatusGatewayTimeout {
			problems = append(problems, "valid request refused")
		}
	case expectRefusal, expectClosed:
		if resp.StatusCode == http.StatusOK {
			problems = append(problems, "accepted with 200")
		}
	}
	o.problem = strings.Join(problems, "; ")
}

// checkDigest verifies a 200's Content-Digest (header or trailer) over its
// body; a transform without one is a problem, the image list has none.
func checkDigest(resp *http.Response, body []byte) error {
	field := resp.Header.Get("Content-Digest")
	if field == "" {
		field = resp.Trailer.Get("Content-Digest")
	}
	if field == "" {
		if strings.HasPrefix(resp.Header.Get("Content-Type"), "image/") {
			return errors.New("200 without Content-Digest")
		}
		return nil
	}
	alg, val, ok := strings.Cut(strings.TrimSpace(strings.Split(field, ",")[0]), "=")
	if !ok || len(val) < 2 {
		return fmt.Errorf("Content-Digest %q malformed", field)
	}
	want, err := base64.StdEncoding.DecodeString(strings.Trim(val, ":"))
	if err != nil {
		return fmt.Errorf("Content-Digest %q malformed", field)
	}
	var h hash.Hash
	switch alg {
	case "sha-256":
		h = sha256.New()
	case "sha-512":
		h = sha512.New()
	case "crc32c":
		h = crc32.New(crc32.MakeTable(crc32.Castagnoli))
	default:
		return fmt.Errorf("Content-Digest algorithm %q unknown to the fuzzer", alg)
	}
	h.Write(body)
	if !bytes.Equal(h.Sum(nil), want) {
		return fmt.Errorf("Content-Digest %s mismatch over %d bytes", alg, len(body))
	}
	return nil
}
