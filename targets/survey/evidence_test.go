package survey

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAccessLogs(t *testing.T) {
	tests := []struct {
		name   string
		server string
		give   string
		want   Request
	}{
		{"nginx complete", "nginx", "r1\t200\t16777216\t16777456\tGET\t/bytes/16777216\tOK\t0.812",
			Request{ID: "r1", Method: "GET", Target: "/bytes/16777216", Status: 200, BodyBytes: 16777216, WireBytes: 16777456, State: "OK", End: EndComplete, Duration: 812 * time.Millisecond}},
		{"nginx cut", "nginx", "r2\t200\t219143\t219384\tGET\t/bytes/16777216\t\t2.004",
			Request{ID: "r2", Method: "GET", Target: "/bytes/16777216", Status: 200, BodyBytes: 219143, WireBytes: 219384, End: EndCut, Duration: 2004 * time.Millisecond}},
		{"apache aborted", "apache2", "-\t200\t-\t4194560\tGET\t/bytes/16777216\tX\t2000000",
			Request{Method: "GET", Target: "/bytes/16777216", Status: 200, BodyBytes: -1, WireBytes: 4194560, State: "X", End: EndCut, Duration: 2 * time.Second}},
		{"haproxy data phase", "haproxy", "r3\t200\t-\t1048700\tGET\t/bytes/16777216\tcD\t2001",
			Request{ID: "r3", Method: "GET", Target: "/bytes/16777216", Status: 200, BodyBytes: -1, WireBytes: 1048700, State: "cD", End: EndCut, Duration: 2001 * time.Microsecond}},
		{"squid plain miss", "squid", "r7\t200\t-\t4182758\tGET\t/bytes/16777216\tTCP_MISS\t6001",
			Request{ID: "r7", Method: "GET", Target: "/bytes/16777216", Status: 200, BodyBytes: -1, WireBytes: 4182758, State: "TCP_MISS", End: EndUnknown, Duration: 6001 * time.Microsecond}},
		{"squid aborted", "squid", "r4\t200\t-\t3000000\tGET\t/bytes/16777216\tTCP_MISS_ABORTED\t1500",
			Request{ID: "r4", Method: "GET", Target: "/bytes/16777216", Status: 200, BodyBytes: -1, WireBytes: 3000000, State: "TCP_MISS_ABORTED", End: EndCut, Duration: 1500 * time.Microsecond}},
		{"trafficserver interrupted", "trafficserver", "r5\t200\t5000000\t-\tGET\t/bytes/16777216\tINTR\t1200",
			Request{ID: "r5", Method: "GET", Target: "/bytes/16777216", Status: 200, BodyBytes: 5000000, WireBytes: -1, State: "INTR", End: EndCut, Duration: 1200 * time.Millisecond}},
		{"caddy short", "caddy", `{"level":"info","msg":"handled request","request":{"method":"GET","uri":"/bytes/16777216","headers":{"X-Request-Id":["r6"]}},"duration":2.5,"size":1000,"status":200,"resp_headers":{"Content-Length":["16777216"]}}`,
			Request{ID: "r6", Method: "GET", Target: "/bytes/16777216", Status: 200, BodyBytes: 1000, WireBytes: -1, State: "size 1000 of 16777216", End: EndCut, Duration: 2500 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Lookup(tt.server)
			require.NoError(t, err)
			got, ok := s.parse(tt.give)
			require.True(t, ok)
			tt.want.Line = tt.give
			assert.Equal(t, tt.want, got)
		})
	}
	for _, s := range Servers() {
		for _, junk := range []string{"", "not a log line", "a\tb\tc\td\te\tf\tg\th", "{}"} {
			_, ok := s.parse(junk)
			assert.False(t, ok, "%s parses %q", s.Name, junk)
		}
	}
}

func TestReadEvidence(t *testing.T) {
	dir := t.TempDir()
	s, err := Lookup("nginx")
	require.NoError(t, err)
	access, errlog := filepath.Join(dir, "access.log"), filepath.Join(dir, "error.log")
	require.NoError(t, os.WriteFile(access, []byte("a\t200\t10\t200\tGET\t/x\tOK\t0.1\nnoise\nb\t200\t5\t100\tGET\t/y\t-\t2.0\n"), 0o644))
	require.NoError(t, os.WriteFile(errlog, []byte("2026/01/01 [notice] 1#1: start\n2026/01/01 [info] 7#7: *3 client timed out (110: Connection timed out) while sending response to client\n"), 0o644))
	ev, err := ReadEvidence(s, Logs{Access: []string{access, filepath.Join(dir, "missing.log")}, Error: []string{errlog}})
	require.NoError(t, err)
	require.Len(t, ev.Requests, 2)
	b, ok := ev.Request("b")
	require.True(t, ok)
	assert.Equal(t, EndCut, b.End)
	assert.Equal(t, int64(5), b.BodyBytes)
	_, ok = ev.Request("c")
	assert.False(t, ok)
	require.Len(t, ev.Errors, 1)
	assert.Contains(t, ev.Errors[0].Line, "client timed out")
}
