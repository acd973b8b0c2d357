package harness

// crc32cCombine returns the CRC-32C of A followed by B from crcA, crcB
// and B's length, so the verifier hashes every byte once (per block) and
// still has the whole body's CRC. It is zlib's crc32_combine (polynomial
// arithmetic modulo the reflected Castagnoli polynomial): the cost is a
// few dozen shifts per block, nothing per byte.
func crc32cCombine(crcA, crcB uint32, lenB int64) uint32 {
	if lenB <= 0 {
		return crcA
	}
	op := crc32cBlockShift
	if lenB != BlockSize {
		op = crc32cShift(lenB)
	}
	return crc32cMulMod(op, crcA) ^ crcB
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

// crc32cX2n[k] is x^(2^k) modulo the polynomial.
var crc32cX2n = func() (t [32]uint32) {
	p := uint32(1) << 30 // x^1
	for k := range t {
		t[k] = p
		p = crc32cMulMod(p, p)
	}
	return t
}()

// crc32cShift returns x^(8*n) modulo the polynomial: the operator that
// appends n zero bytes to a CRC.
func crc32cShift(n int64) uint32 {
	p := uint32(1) << 31 // x^0
	for k := 3; n != 0; n, k = n>>1, k+1 {
		if n&1 != 0 {
			p = crc32cMulMod(crc32cX2n[k&31], p)
		}
	}
	return p
}

// crc32cBlockShift is crc32cShift(BlockSize), the common case.
var crc32cBlockShift = crc32cShift(BlockSize)
