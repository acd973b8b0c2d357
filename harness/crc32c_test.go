package harness

import (
	"hash/crc32"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

// TestCRC32CUpdate holds crc32cUpdate (the folding kernel where the CPU
// has one) to hash/crc32 for every length up to a few folding units, at
// every alignment mod 64, from random initial CRCs, and for lengths
// around the verifier's blocks; where the kernel runs it is also called
// directly, on every multiple of its unit.
func TestCRC32CUpdate(t *testing.T) {
	if !crc32cFoldOK {
		t.Log("no folding kernel on this CPU: crc32cUpdate is hash/crc32's (both sides below)")
	}
	buf := testBody(2*BlockSize + 4096)
	r := rand.New(rand.NewPCG(3, 4))
	check := func(n, off int) {
		t.Helper()
		p := buf[off : off+n]
		init := r.Uint32()
		want := crc32.Update(init, castagnoli, p)
		require.Equal(t, want, crc32cUpdate(init, p), "length %d at offset %d from %08x", n, off, init)
		if crc32cFoldOK && n > 0 && n%crc32cFoldUnit == 0 {
			require.Equal(t, want, crc32cFold(init, p), "kernel: length %d at offset %d from %08x", n, off, init)
		}
	}
	for n := 0; n <= 4*crc32cFoldMin+3; n++ {
		check(n, r.IntN(64))
	}
	for _, n := range []int{BlockSize - 1, BlockSize, BlockSize + 1, BlockSize + 255, 2*BlockSize - 17, 2 * BlockSize} {
		for off := range 64 {
			check(n, off)
		}
	}
	// A single flipped bit anywhere changes the CRC (the kernel reads every byte).
	p := append([]byte(nil), buf[:BlockSize]...)
	clean := crc32cUpdate(0, p)
	for _, i := range []int{0, 3, 4, 255, 256, 1000, BlockSize / 2, BlockSize - 257, BlockSize - 1} {
		p[i] ^= 0x10
		assert.NotEqual(t, clean, crc32cUpdate(0, p), "bit flipped at %d", i)
		assert.Equal(t, crc32.Checksum(p, castagnoli), crc32cUpdate(0, p), "bit flipped at %d", i)
		p[i] ^= 0x10
	}
}

// TestCRC32CXPow checks the folding keys' exponentiation against
// crc32cShift and against multiplying by x one step at a time.
func TestCRC32CXPow(t *testing.T) {
	for _, n := range []int64{0, 1, 7, 16, 64, 256, BlockSize, 1 << 40} {
		assert.Equal(t, crc32cShift(n), crc32cXPow(8*n), "x^(8*%d)", n)
	}
	x := crc32cXPow(1)
	p := crc32cXPow(0)
	for e := range int64(300) {
		require.Equal(t, p, crc32cXPow(e), "x^%d", e)
		p = crc32cMulMod(x, p)
	}
}
