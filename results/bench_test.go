package results

import (
	"bytes"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// BenchmarkWriterWrite: cost of appending one record (a failing one, with
// account and timeline) through the buffered, synced writer.
func BenchmarkWriterWrite(b *testing.B) {
	w, err := NewWriter(filepath.Join(b.TempDir(), RecordsFile), WriterConfig{})
	if err != nil {
		b.Fatal(err)
	}
	r := rec("bench", 1, Truncated)
	b.ReportAllocs()
	for b.Loop() {
		if err := w.Write(&r); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkWriterWriteParallel: contention on the writer's lock.
func BenchmarkWriterWriteParallel(b *testing.B) {
	w, err := NewWriter(filepath.Join(b.TempDir(), RecordsFile), WriterConfig{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := rec("bench", 1, Complete)
		for pb.Next() {
			if err := w.Write(&r); err != nil {
				b.Error(err)
				return
			}
		}
	})
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRead: decoding a JSONL file.
func BenchmarkRead(b *testing.B) {
	var buf bytes.Buffer
	enc := NewEncoder(&buf)
	for i := range int64(1000) {
		r := rec("bench", i, Outcome([]Outcome{Complete, Truncated}[i%2]))
		if err := enc(&r); err != nil {
			b.Fatal(err)
		}
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		if _, err := Scan(bytes.NewReader(data), "bench", func(*Record) error { n++; return nil }); err != nil || n != 1000 {
			b.Fatal(err, n)
		}
	}
}

// BenchmarkSummaryAdd: cost of counting one record, and the heap after
// b.N records (reported as heap-MB: it must not grow with b.N).
func BenchmarkSummaryAdd(b *testing.B) {
	s := NewSummary("bench")
	recs := []Record{rec("bench", 1, Complete), rec("bench", 2, Truncated)}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r := &recs[i%2]
		r.Start = t0.Add(time.Duration(i) * time.Millisecond)
		s.Add(r)
		i++
	}
	s.Close()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapAlloc)/1e6, "heap-MB")
}
