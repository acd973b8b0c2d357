package transporttest

import (
	"io"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestUpstream(t *testing.T) {
	l := Upstream(t, 100_000)
	for range 2 {
		c, err := net.Dial("tcp", l.Addr().String())
		require.NoError(t, err)
		n, err := io.Copy(io.Discard, c)
		require.NoError(t, err, "the body ends with a FIN")
		assert.Equal(t, int64(100_000), n)
		c.Close()
	}
}
