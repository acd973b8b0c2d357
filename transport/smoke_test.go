package transport

import (
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPassThroughAndRecorder(t *testing.T) {
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			s, c := pair(t, network, Options{Record: 64, Name: "svc"})
			assert.Equal(t, "svc-1", s.ID())
			go func() {
				s.Write([]byte("hello"))
				s.CloseWrite()
			}()
			b, err := io.ReadAll(c)
			require.NoError(t, err)
			assert.Equal(t, "hello", string(b))
			c.Close()
			_, err = s.Read(make([]byte, 10))
			assert.ErrorIs(t, err, io.EOF)
			require.NoError(t, s.Close())
			require.NoError(t, s.Close())
			tl := s.Timeline()
			t.Log("\n" + tl.String())
			var kinds []string
			for _, e := range tl {
				kinds = append(kinds, e.Kind.String())
			}
			assert.Equal(t, []string{"accept", "write", "close-write", "peer-fin", "close"}, kinds)
		})
	}
}
