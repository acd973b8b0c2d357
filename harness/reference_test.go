package harness

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truncheck/truncheck/results"
)

func TestRelation(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, b, 0o600))
		return p
	}
	body := testBody(200_000)
	whole := write("whole", body)
	other := append([]byte(nil), body...)
	other[199_999] ^= 1
	tests := []struct {
		name string
		a    string
		want bodyRelation
	}{
		{"same", write("same", body), same},
		{"prefix", write("prefix", body[:70_000]), prefix},
		{"empty is a prefix", write("empty", nil), prefix},
		{"longer", write("longer", append(append([]byte(nil), body...), 1)), differ},
		{"other last byte", write("other", other), differ},
		{"other prefix", write("otherprefix", other[:70_000][:69_999]), prefix},
		{"differs early", write("early", append([]byte{body[0] ^ 1}, body[1:100]...)), differ},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := relation(tt.a, whole)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestAgreeingFetches: clean fetches that agree make a consistency
// reference; a strict prefix among them is a finding (the target cut a
// clean fetch) and more fetches are made until the longest is confirmed;
// bodies that differ otherwise leave the request kind unverifiable.
func TestAgreeingFetches(t *testing.T) {
	body := testBody(300_000)
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := n.Add(1)
		switch r.URL.Path {
		case "/stable":
			_, _ = w.Write(body)
		case "/first-cut": // the first fetch is laundered short
			if i == 1 {
				_, _ = w.Write(body[:100_000])
				return
			}
			_, _ = w.Write(body)
		case "/varies":
			b := append([]byte(nil), body...)
			b[0] = byte(i)
			_, _ = w.Write(b)
		case "/gone":
			http.Error(w, "gone", http.StatusGone)
		}
	}))
	defer srv.Close()
	v := NewVerifier(5*time.Second, DefaultWantDigest)
	fetch := func(path string) (*Expected, []string, []string) {
		n.Store(0)
		newReq := func() (*http.Request, error) { return http.NewRequest(http.MethodGet, srv.URL+path, nil) }
		w, notes, findings, err := agreeingFetches(t.Context(), v, srv.Client().Do, newReq, 3, filepath.Join(t.TempDir(), "f"))
		require.NoError(t, err)
		return w, notes, findings
	}

	w, notes, findings := fetch("/stable")
	require.NotNil(t, w)
	assert.Equal(t, results.AgreeingFetches(3), w.Source)
	assert.Equal(t, FingerprintBytes(body), *w.Ref)
	assert.Empty(t, notes)
	assert.Empty(t, findings)
	assert.Equal(t, int64(3), n.Load())

	w, _, findings = fetch("/first-cut")
	require.NotNil(t, w)
	assert.Equal(t, results.AgreeingFetches(2), w.Source, "the two whole fetches agree")
	assert.Equal(t, int64(len(body)), w.Length, "the longest, not the cut one")
	require.Len(t, findings, 1)
	assert.Contains(t, findings[0], "1 of 3 clean reference fetches were cut by the target with no fault injected: strict prefixes (100000 bytes) of the 300000 bytes")

	w, notes, _ = fetch("/varies")
	require.NotNil(t, w)
	assert.Nil(t, w.Ref)
	assert.Contains(t, w.Unverifiable, "clean reference fetches disagree")
	assert.NotEmpty(t, notes)

	w, notes, _ = fetch("/gone")
	assert.Nil(t, w, "no reference from error answers")
	require.Len(t, notes, 1)
	assert.Contains(t, notes[0], "no reference: 9 clean fetches failed (http-error")
}
