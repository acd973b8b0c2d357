package control

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// maxBody bounds a request body: a populate of every proxy the registry holds fits.
const maxBody = 256 << 10

// apiErr is an error with the status the API answers it with.
type apiErr struct {
	status int
	msg    string
}

func (e *apiErr) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &apiErr{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) error {
	return &apiErr{http.StatusNotFound, fmt.Sprintf(format, args...)}
}

func conflict(format string, args ...any) error {
	return &apiErr{http.StatusConflict, fmt.Sprintf(format, args...)}
}

func forbidden(format string, args ...any) error {
	return &apiErr{http.StatusForbidden, fmt.Sprintf(format, args...)}
}

// statusOf is the status an error is answered with: its own, else 500.
func statusOf(err error) int {
	var ae *apiErr
	if errors.As(err, &ae) {
		return ae.status
	}
	return http.StatusInternalServerError
}

// readBody reads a request's body, at most maxBody bytes.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return nil, &apiErr{http.StatusRequestEntityTooLarge, fmt.Sprintf("request body over %d bytes", maxBody)}
	}
	if err != nil {
		return nil, badRequest("reading the request body: %v", err)
	}
	return b, nil
}

// decodeObject decodes one JSON object of body into v after checking that every field
// is one of accepted; what says what the object is ("proxy", "toxic"). An empty body is
// an empty object, as Toxiproxy's clients send for POST /reset.
func decodeObject(body []byte, what string, accepted []string, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return badRequest("bad request body: %s: %v (want a JSON object with the fields %s)", what, err, strings.Join(accepted, ", "))
	}
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		if !slices.Contains(accepted, k) {
			return badRequest("%s: unknown field %q; accepted: %s", what, k, strings.Join(accepted, ", "))
		}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return badRequest("bad request body: %s: %v", what, err)
	}
	return nil
}

// rawNumber is a JSON value that must be a whole number (Toxiproxy's attributes are
// integers; 1000.0 is accepted as 1000 for clients whose numbers are all floats).
type rawNumber json.RawMessage

func (n *rawNumber) UnmarshalJSON(b []byte) error {
	*n = append((*n)[:0], b...)
	return nil
}

func (n rawNumber) int64() (int64, error) {
	s := string(n)
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return v, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, fmt.Errorf("%s is not a whole number", s)
	}
	return int64(f), nil
}
