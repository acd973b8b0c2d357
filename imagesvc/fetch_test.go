package imagesvc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFetchNested(t *testing.T) {
	inner := newEnv(t, Config{}, ServerConfig{})
	outer := newEnv(t, Config{Upstream: &Upstream{Client: inner.unix, BaseURL: "http://inner"}}, ServerConfig{})
	for _, stream := range []string{"0", "1"} {
		t.Run("inner stream="+stream, func(t *testing.T) {
			id := "nest-" + stream
			src := url.QueryEscape("/images/photo-small?format=png&stream=" + stream)
			resp, body := get(t, outer.tcp, outer.tcpBase+"/fetch?src="+src+"&ops=resize:w=100&format=png",
				map[string]string{"X-Request-Id": id})
			require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
			assert.Equal(t, ContentDigest(SHA256, body), resp.Header.Get("Content-Digest"))
			cfg, _, err := image.DecodeConfig(bytes.NewReader(body))
			require.NoError(t, err)
			assert.Equal(t, 100, cfg.Width)
			innerAcc, ok := inner.svc.WaitAccount(t.Context(), id+UpstreamRequestIDSuffix)
			require.True(t, ok)
			assert.True(t, innerAcc.Complete, "%+v", innerAcc)
			outerAcc, ok := outer.svc.WaitAccount(t.Context(), id)
			require.True(t, ok)
			assert.True(t, outerAcc.Complete)
		})
	}
}

// TestFetchRefusesBrokenUpstream: a cut, a bad digest or an error status from the
// inner service is a 502 naming what happened, never a transformed partial image.
func TestFetchRefusesBrokenUpstream(t *testing.T) {
	good, err := New(Config{})
	require.NoError(t, err)
	img, err := good.TransformPath(t.Context(), "/images/photo-small?format=jpeg")
	require.NoError(t, err)
	half := img[:len(img)/2]

	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/images/cut":
			conn, bw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer conn.Close()
			fmt.Fprintf(bw, "HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n", len(img))
			bw.Write(half)
			bw.Flush()
		case "/images/chunked-cut":
			conn, bw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer conn.Close()
			fmt.Fprintf(bw, "HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n", len(half))
			bw.Write(half)
			bw.WriteString("\r\n")
			bw.Flush()
		case "/images/bad-digest":
			w.Header().Set("Content-Digest", ContentDigest(CRC32C, half))
			w.Write(img)
		case "/images/missing":
			http.Error(w, "nope", http.StatusNotFound)
		}
	}))
	t.Cleanup(fake.Close)
	outer := newEnv(t, Config{Upstream: &Upstream{Client: fake.Client(), BaseURL: fake.URL}}, ServerConfig{})
	t.Cleanup(fake.Client().CloseIdleConnections)

	tests := []struct {
		name string
		give string
		want string
	}{
		{"cut before Content-Length", "/images/cut", fmt.Sprintf("upstream body incomplete: got %d of %d bytes", len(half), len(img))},
		{"chunked without last chunk", "/images/chunked-cut", fmt.Sprintf("upstream body incomplete: chunked body ended without its last chunk after %d bytes", len(half))},
		{"digest mismatch", "/images/bad-digest", fmt.Sprintf("upstream body digest mismatch (crc32c) over %d bytes", len(img))},
		{"error status", "/images/missing", "upstream answered status 404"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, outer.tcp, outer.tcpBase+"/fetch?src="+url.QueryEscape(tt.give), nil)
			require.Equal(t, http.StatusBadGateway, resp.StatusCode, string(body))
			var ej errJSON
			require.NoError(t, json.Unmarshal(body, &ej))
			assert.Equal(t, tt.want, ej.Error)
		})
	}
	for _, q := range []string{"src=" + url.QueryEscape("http://evil/"), "src=%2Fimages%2Fcut&src=%2Fimages%2Fcut", "ops=flip", "src=/images/x&bogus=1"} {
		resp, body := get(t, outer.tcp, outer.tcpBase+"/fetch?"+q, nil)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s: %s", q, body)
	}
}
