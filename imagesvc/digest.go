package imagesvc

import (
	"hash"

	"github.com/truncheck/truncheck/harness/digest"
)

// DigestAlg is an RFC 9530 digest algorithm key the service can produce:
// the names, hashes, parsing and preference rules are harness/digest's,
// the same code the verifier uses, so both sides agree by construction.
type DigestAlg string

// Supported digest algorithms. crc32c is the 4-byte big-endian Castagnoli CRC:
// no defence against an adversary, ample against accidental truncation, and ~50x
// faster than sha-256 on these machines, which matters to a verifier at wire speed.
const (
	SHA256 DigestAlg = digest.SHA256
	SHA512 DigestAlg = digest.SHA512
	CRC32C DigestAlg = digest.CRC32C
)

// DefaultDigest is used when the request has no usable Want-Content-Digest.
const DefaultDigest = SHA256

// NewHash returns a streaming hash for alg (nil for an unknown alg), so a client
// can verify a body while reading it.
func NewHash(alg DigestAlg) hash.Hash { return digest.NewHash(string(alg)) }

// ContentDigest renders the Content-Digest field value of body, e.g. "sha-256=:...:";
// "" for an unknown alg.
func ContentDigest(alg DigestAlg, body []byte) string {
	sum := digest.Sum(string(alg), body)
	if sum == nil {
		return ""
	}
	return digest.Digest{Algorithm: string(alg), Value: sum}.String()
}

// ParseContentDigest reads a Content-Digest field strictly (digest.Parse) into
// algorithm -> raw sum, keeping the algorithms the service can compute. A
// malformed field gives an empty map: nothing in it can be checked.
func ParseContentDigest(field string) map[DigestAlg][]byte {
	out := map[DigestAlg][]byte{}
	ds, err := digest.Parse(field)
	if err != nil {
		return out
	}
	for _, d := range ds {
		if digest.Supported(d.Algorithm) {
			out[DigestAlg(d.Algorithm)] = d.Value
		}
	}
	return out
}

// chooseDigest picks the algorithm from a Want-Content-Digest field
// ("crc32c=9, sha-256=1") by digest.Choose: the highest weight among supported
// algorithms, ties to the stronger hash; DefaultDigest when the field is
// missing, malformed or names nothing supported.
func chooseDigest(want string) DigestAlg {
	return DigestAlg(digest.Choose(want, string(DefaultDigest)))
}
