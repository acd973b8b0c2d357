package results

import (
	"bytes"
	"io"
	"testing"
)

// FuzzDecoder: any input either decodes or fails with an error; never a
// panic, and every record returned validates.
func FuzzDecoder(f *testing.F) {
	var b bytes.Buffer
	for _, r := range []Record{rec("a", 1, Complete), rec("a", 2, Truncated)} {
		_ = NewEncoder(&b)(&r)
	}
	f.Add(b.Bytes())
	f.Add([]byte(`{"scenario":"a","outcome":"reset"}`))
	f.Add([]byte("{\n}\n{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = Scan(bytes.NewReader(data), "fuzz", func(r *Record) error {
			if err := r.Validate(); err != nil {
				t.Fatalf("decoder returned an invalid record: %v", err)
			}
			return nil
		})
	})
}

// FuzzSummaryJSON: any summary file either fails to read or can be
// merged, rendered and compared without a panic.
func FuzzSummaryJSON(f *testing.F) {
	var b bytes.Buffer
	_ = WriteJSON(&b, judged(sample()))
	f.Add(b.Bytes())
	f.Add([]byte(`{"scenarios":[{"scenario":"x","summary":{"series":{"width_ns":100000000,"first_bin":-9223372036854775800,"bins":[{"reset":1}]}}}]}`))
	f.Add([]byte(`{"scenarios":[{"scenario":"x","summary":{"requests":-5,"offsets":{"count":3,"min":10,"max":2}}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rr, err := ReadJSON(bytes.NewReader(data), "fuzz")
		if err != nil {
			return
		}
		m, _ := Merge(rr, rr)
		_ = WriteText(io.Discard, m)
		_ = WriteJUnit(io.Discard, m)
		_ = WriteHTML(io.Discard, m)
		_ = Compare(m, rr, Tolerance{})
	})
}
