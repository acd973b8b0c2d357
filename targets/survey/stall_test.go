package survey

import (
	"context"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// stallEnv turns on TestStalledReader: a first look at the survey's
// low-timeout condition, not part of the default run (about 10 s a server).
const stallEnv = "TRUNCHECK_SURVEY_STALL"

// TestStalledReader starts every installed server with SendTimeout 2s,
// reads 512 KiB of a 64 MiB file, stalls 6 s, reads on, and logs what the
// client got next to what the server's logs say. It records; it does not
// judge: which servers cut, and whether they say so, is the survey's
// finding.
func TestStalledReader(t *testing.T) {
	if os.Getenv(stallEnv) == "" {
		t.Skipf("set %s=1 to run it", stallEnv)
	}
	for _, s := range Servers() {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			if !s.Installed() {
				t.Skipf("%s absent", s.Binary)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			const size = Size64MiB
			cfg := Config{Dir: surveyDir(t), Files: []int64{size}, SendTimeout: 2 * time.Second, StopTimeout: 5 * time.Second}
			if s.Proxy {
				cfg.Upstream = bodyServer(t).URL
			}
			in, err := Start(ctx, s, cfg)
			require.NoError(t, err)
			defer func() { _ = in.Stop(context.Background()) }()
			c := testClient(t, in, time.Minute)
			path := BodyPath(size)
			if s.Proxy {
				path = in.UpstreamPath(path)
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, in.URLFor(path), nil)
			require.NoError(t, err)
			req.Header.Set("X-Request-Id", "stall-1")
			resp, err := c.Do(req)
			require.NoError(t, err)
			n, _ := io.ReadFull(resp.Body, make([]byte, 512<<10))
			time.Sleep(6 * time.Second)
			m, rerr := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			require.NoError(t, in.Stop(ctx))
			ev, err := in.Evidence()
			require.NoError(t, err)
			r, logged := ev.Request("stall-1")
			t.Logf("%s: client got %d of %d (Content-Length %d), read error %v", s.Name, int64(n)+m, size, resp.ContentLength, rerr)
			if logged {
				t.Logf("%s: access log: status %d, body %d, wire %d, state %q => %q", s.Name, r.Status, r.BodyBytes, r.WireBytes, r.State, r.End)
			} else {
				t.Logf("%s: access log: no line", s.Name)
			}
			for _, l := range ev.Errors {
				t.Logf("%s: error log: %.160s", s.Name, l.Line)
			}
		})
	}
}
