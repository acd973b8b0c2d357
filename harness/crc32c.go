package harness

import "hash/crc32"

// crc32cCombine returns the CRC-32C of A followed by B from crcA, crcB
// and B's length, so the verifier hashes every byte once (per block) and
// still has the whole body's CRC. It is zlib's crc32_combine (polynomial
// arithmetic modulo the reflected Castagnoli polynomial): the cost is four
// table loads per whole block, a few dozen shifts for a short last one,
// nothing per byte.
func crc32cCombine(crcA, crcB uint32, lenB int64) uint32 {
	if lenB <= 0 {
		return crcA
	}
	if lenB == BlockSize {
		t := &crc32cBlockShiftTable
		return t[0][crcA&0xff] ^ t[1][crcA>>8&0xff] ^ t[2][crcA>>16&0xff] ^ t[3][crcA>>24] ^ crcB
	}
	return crc32cMulMod(crc32cXPow(8*lenB), crcA) ^ crcB
}

// crc32cPoly is the Castagnoli polynomial, bit-reflected as hash/crc32 uses it.
const crc32cPoly = 0x82f63b78

// crc32cMulMod multiplies a and b modulo the polynomial (reflected bit order).
func crc32cMulMod(a, b uint32) uint32 {
	var p uint32
	for m := uint32(1) << 31; m != 0; m >>= 1 {
		if a&m != 0 {
			p ^= b
			if a&(m-1) == 0 {
				break
			}
		}
		if b&1 != 0 {
			b = b>>1 ^ crc32cPoly
		} else {
			b >>= 1
		}
	}
	return p
}

// crc32cX2n[k] is x^(2^k) modulo the polynomial, for every bit of an int64
// exponent. (A table of 32 reused modulo 32, as zlib does, assumes
// x^(2^32) = x; for Castagnoli's polynomial it gave x^a * x^b != x^(a+b)
// from exponents of 2^32 on, lengths of 512 MiB: TestCRC32CXPow.)
var crc32cX2n = func() (t [63]uint32) {
	p := uint32(1) << 30 // x^1
	for k := range t {
		t[k] = p
		p = crc32cMulMod(p, p)
	}
	return t
}()

// crc32cBlockShift appends BlockSize zero bytes to a CRC, the common case.
var crc32cBlockShift = crc32cXPow(8 * BlockSize)

// crc32cBlockShiftTable[i][b] is crc32cMulMod(crc32cBlockShift, b<<(8*i)).
// The product is linear in its second factor, so the four bytes' entries
// XORed together multiply a whole CRC: four loads instead of the 32
// branchy steps of crc32cMulMod, once per verified block.
var crc32cBlockShiftTable = func() (t [4][256]uint32) {
	for i := range t {
		for b := range t[i] {
			t[i][b] = crc32cMulMod(crc32cBlockShift, uint32(b)<<(8*i))
		}
	}
	return t
}()

// crc32cFoldUnit is what crc32cFold consumes at a time: four 64-byte
// vector registers.
const crc32cFoldUnit = 256

// crc32cFoldMin is the shortest input handed to crc32cFold: below it the
// fixed cost of its final reduction outweighs what it saves.
const crc32cFoldMin = 1024

// crc32cUpdate is crc32.Update with the Castagnoli table, two to four
// times as fast on long inputs where the CPU can fold with carry-less
// multiplication (crc32c_amd64.s). hash/crc32 folds that way for IEEE
// only; for Castagnoli it runs the CRC32 instruction, which bounds it at
// about 8 bytes a cycle; the verifier, which hashes every body byte,
// spent over a third of its CPU time there. The tail past the last whole
// crc32cFoldUnit goes to hash/crc32.
func crc32cUpdate(crc uint32, p []byte) uint32 {
	if crc32cFoldOK && len(p) >= crc32cFoldMin {
		n := len(p) &^ (crc32cFoldUnit - 1)
		crc = crc32cFold(crc, p[:n])
		p = p[n:]
	}
	return crc32.Update(crc, castagnoli, p)
}

// crc32cFoldKeys are the folding kernel's multipliers, laid out as its
// loads expect (byte offsets 0, 16, 32 and 48). Carrying a 128-bit lane d
// bytes forward multiplies its low half by x^(8d+63) and its high half by
// x^(8d-1) modulo the polynomial: the halves sit 64 bits apart, and a
// carry-less product of bit-reflected operands comes out multiplied by x
// once more. Each key is reduced to 32 bits and kept in the high half of
// a reflected 64-bit word, where the kernel's products expect it.
type crc32cFoldKeys struct {
	by256, by128, by64 [2]uint64
	lanes              [8]uint64 // lanes 0-2 of a ZMM by 48, 32 and 16 bytes; lane 3 stays (zero)
}

var crc32cKeys = func() (k crc32cFoldKeys) {
	pair := func(d int64) [2]uint64 {
		return [2]uint64{uint64(crc32cXPow(8*d+63)) << 32, uint64(crc32cXPow(8*d-1)) << 32}
	}
	k.by256, k.by128, k.by64 = pair(256), pair(128), pair(64)
	for i, d := range []int64{48, 32, 16} {
		p := pair(d)
		k.lanes[2*i], k.lanes[2*i+1] = p[0], p[1]
	}
	return k
}()

// crc32cXPow returns x^e modulo the polynomial (reflected, like
// crc32cMulMod's operands); e >= 0.
func crc32cXPow(e int64) uint32 {
	p := uint32(1) << 31 // x^0
	for k := 0; e != 0; e, k = e>>1, k+1 {
		if e&1 != 0 {
			p = crc32cMulMod(crc32cX2n[k], p)
		}
	}
	return p
}
