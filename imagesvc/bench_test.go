package imagesvc

import (
	"testing"
)

// benchTransform runs one request path in-process with the cache off, so every
// iteration decodes, transforms and encodes.
func benchTransform(b *testing.B, path string) {
	svc, err := New(Config{CacheBytes: -1})
	if err != nil {
		b.Fatal(err)
	}
	out, err := svc.TransformPath(b.Context(), path) // generates the source once
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(out)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := svc.TransformPath(b.Context(), path); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTransformSmall: a thumbnail-sized chain on the 1 MP image (~50 KB out).
func BenchmarkTransformSmall(b *testing.B) {
	benchTransform(b, "/images/photo-1mp?ops=resize:w=640;blur:sigma=0.8;overlay:x=10,y=10&format=jpeg&quality=90")
}

// BenchmarkTransformLarge: the 12 MP image rotated and encoded as high-quality
// JPEG at full size (~6 MB out), the kind of body that gets truncated.
func BenchmarkTransformLarge(b *testing.B) {
	benchTransform(b, "/images/photo-12mp?ops=rotate:deg=90&format=jpeg&quality=95")
}

// BenchmarkTransformLargeTIFF: full-size uncompressed TIFF of 12 MP (36 MB out).
func BenchmarkTransformLargeTIFF(b *testing.B) {
	benchTransform(b, "/images/photo-12mp?format=tiff")
}
