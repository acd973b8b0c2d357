package harness

import (
	"hash/crc32"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestCRC32CCombine checks the combined CRC against hash/crc32 over the
// concatenation, for block-sized, short, empty and odd parts.
func TestCRC32CCombine(t *testing.T) {
	body := testBody(3*BlockSize + 1234)
	for _, tc := range []struct{ a, b int }{
		{0, 0}, {0, 1}, {1, 0}, {1, 1}, {BlockSize, BlockSize}, {BlockSize, 7},
		{2 * BlockSize, BlockSize}, {13, 3*BlockSize + 1000}, {BlockSize - 1, 2*BlockSize + 3},
	} {
		t.Run(strconv.Itoa(tc.a)+"+"+strconv.Itoa(tc.b), func(t *testing.T) {
			a, b := body[:tc.a], body[tc.a:tc.a+tc.b]
			want := crc32.Checksum(body[:tc.a+tc.b], castagnoli)
			got := crc32cCombine(crc32.Checksum(a, castagnoli), crc32.Checksum(b, castagnoli), int64(len(b)))
			assert.Equal(t, want, got)
		})
	}
}
