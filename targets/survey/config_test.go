package survey

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigErrors(t *testing.T) {
	dir := surveyDir(t)
	private := filepath.Join(dir, "private")
	require.NoError(t, os.Mkdir(private, 0o700))
	inner := filepath.Join(private, "inner")
	require.NoError(t, os.Mkdir(inner, 0o755))
	ngx, err := Lookup("nginx")
	require.NoError(t, err)
	apache, err := Lookup("apache2")
	require.NoError(t, err)
	hap, err := Lookup("haproxy")
	require.NoError(t, err)
	tests := []struct {
		name string
		s    Server
		give Config
		want string // in the error: what was wrong and what is accepted
	}{
		{"no dir", ngx, Config{}, "Config.Dir is empty (accepted:"},
		{"missing dir", ngx, Config{Dir: filepath.Join(dir, "nope")}, "not an existing directory"},
		{"private ancestor", ngx, Config{Dir: inner}, "not searchable by others"},
		{"network", ngx, Config{Dir: dir, Network: "udp"}, `Config.Network "udp" (accepted: tcp, unix)`},
		{"unix where unsupported", apache, Config{Dir: dir, Network: "unix"}, "unix: not supported by this server (accepted: tcp)"},
		{"port", ngx, Config{Dir: dir, Port: 70000}, "Config.Port 70000 (accepted:"},
		{"protocol", ngx, Config{Dir: dir, Protocol: "h3"}, `protocol "h3" (accepted: http/1.1, h2c, h2)`},
		{"size", ngx, Config{Dir: dir, Files: []int64{-1}}, "size -1 (accepted: 0 to"},
		{"proxy without upstream", hap, Config{Dir: dir}, "Config.Upstream is empty; a proxy needs an origin (accepted: http://127.0.0.1:PORT)"},
		{"upstream not loopback", hap, Config{Dir: dir, Upstream: "http://192.0.2.1:80"}, "not a loopback IPv4 address"},
		{"upstream with path", hap, Config{Dir: dir, Upstream: "http://127.0.0.1:80/x"}, "not an origin URL"},
		{"timeout", ngx, Config{Dir: dir, SendTimeout: time.Millisecond}, "Config.SendTimeout 1ms (accepted: 0"},
		{"h2 on unix", ngx, Config{Dir: dir, Network: "unix", Protocol: H2}, "h2 over a Unix socket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.give.normalize(tt.s)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Contains(t, err.Error(), tt.s.Name+": ", "the error names the server")
		})
	}

	c, err := Config{Dir: dir}.normalize(ngx)
	require.NoError(t, err)
	assert.Equal(t, "tcp", c.Network)
	assert.Equal(t, []int64{Size16MiB}, c.Files)
	assert.Equal(t, 20*time.Second, c.StartTimeout)
	assert.Equal(t, 10*time.Second, c.StopTimeout)
}

func TestStartRefusesUnknownRecipe(t *testing.T) {
	_, err := Start(context.Background(), Server{Name: "mine"}, Config{Dir: surveyDir(t)})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not a recipe from Servers()")
}

func TestStartReportsAbsentBinary(t *testing.T) {
	s, err := Lookup("nginx")
	require.NoError(t, err)
	s.Binary = "/nonexistent/nginx"
	_, err = Start(context.Background(), s, Config{Dir: surveyDir(t)})
	assert.ErrorIs(t, err, ErrNotInstalled)
}

func TestSelect(t *testing.T) {
	all, err := Select("")
	require.NoError(t, err)
	assert.Len(t, all, len(Servers()))
	two, err := Select("nginx, haproxy,nginx")
	require.NoError(t, err)
	require.Len(t, two, 2)
	assert.Equal(t, "nginx", two[0].Name)
	assert.Equal(t, "haproxy", two[1].Name)
	_, err = Select("nginx,iis")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `server "iis" (accepted: go, nginx, apache2,`)
}

func TestCatalog(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range Servers() {
		assert.False(t, seen[s.Name], "name %s twice", s.Name)
		seen[s.Name] = true
		assert.NotEmpty(t, s.Binary, s.Name)
		assert.NotEmpty(t, s.Stop, s.Name)
		assert.NotEmpty(t, s.Timeout, s.Name)
		assert.NotEmpty(t, s.BytesField, s.Name)
		assert.NotNil(t, s.prepare, s.Name)
		assert.NotNil(t, s.parse, s.Name)
		assert.NotNil(t, s.versionRe, s.Name)
		if s.Name != "go" {
			assert.NotEmpty(t, s.Packages, s.Name)
		}
	}
}

func TestParseProtocol(t *testing.T) {
	for give, want := range map[string]Protocol{"": HTTP1, "http/1.1": HTTP1, "H2C": H2C, "h2": H2} {
		got, err := ParseProtocol(give)
		require.NoError(t, err, give)
		assert.Equal(t, want, got, give)
	}
	_, err := ParseProtocol("spdy")
	assert.ErrorContains(t, err, "accepted: http/1.1, h2c, h2")
}
