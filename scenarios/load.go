package scenarios

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/truncheck/truncheck/results"
	"github.com/truncheck/truncheck/transport"
	"github.com/truncheck/truncheck/transport/h2fault"
)

// Load reads a scenario file (.yaml, .yml or .json) and returns its
// scenarios, compiled (validated once, defaults filled in, faults parsed). A file holds one scenario, or a list under a
// top-level `scenarios:` key. Every error names the file, the field path in
// the file's spelling and what is accepted; unknown fields are errors.
func Load(path string) ([]Compiled, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("scenario file: %w", err)
	}
	defer f.Close()
	// Read at most one byte past the cap: Parse then refuses the file
	// without this having read a huge (or endless: /dev/zero) one whole.
	data, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("scenario file: %w", err)
	}
	return Parse(path, data)
}

// maxFileBytes caps a scenario file: they are a few hundred bytes.
const maxFileBytes = 1 << 20

// Parse decodes a scenario file's contents and compiles its scenarios;
// name is used for the format (by extension: .json is JSON, .yaml/.yml or
// anything else YAML) and in error messages.
func Parse(name string, data []byte) ([]Compiled, error) {
	if len(data) > maxFileBytes {
		return nil, &FieldError{File: name, Problem: fmt.Sprintf("file of more than %d bytes is too large", maxFileBytes), Accepted: "up to 1MiB"}
	}
	isJSON := strings.EqualFold(filepath.Ext(name), ".json")
	var tree any
	var err error
	if isJSON {
		tree, err = jsonTree(data)
	} else {
		tree, err = yamlTree(data)
	}
	if err != nil {
		return nil, &FieldError{File: name, Problem: err.Error(), Err: err}
	}
	if tree == nil {
		return nil, &FieldError{File: name, Problem: "empty file", Accepted: "one scenario, or a list under `scenarios:`"}
	}
	top, ok := tree.(map[string]any)
	if !ok {
		return nil, &FieldError{File: name, Problem: fmt.Sprintf("top level is %s", kindOf(tree)), Accepted: "a mapping: one scenario, or a list under `scenarios:`"}
	}
	// First the shape, against the file types, so that an unknown field or
	// a wrong type is reported with its path and the accepted names.
	var list []fileScenario
	if _, isList := top["scenarios"]; isList {
		if ferr := checkTree(tree, reflect.TypeOf(fileList{}), ""); ferr != nil {
			ferr.File = name
			return nil, ferr
		}
		var fl fileList
		if err := strictDecode(isJSON, data, &fl); err != nil {
			return nil, &FieldError{File: name, Problem: err.Error(), Err: err}
		}
		if len(fl.Scenarios) == 0 {
			return nil, &FieldError{File: name, Path: "scenarios", Problem: "empty list", Accepted: "at least one scenario"}
		}
		list = fl.Scenarios
	} else {
		if ferr := checkTree(tree, reflect.TypeOf(fileScenario{}), ""); ferr != nil {
			ferr.File = name
			return nil, ferr
		}
		var fs fileScenario
		if err := strictDecode(isJSON, data, &fs); err != nil {
			return nil, &FieldError{File: name, Problem: err.Error(), Err: err}
		}
		list = []fileScenario{fs}
	}
	out := make([]Compiled, 0, len(list))
	seen := make(map[string]bool)
	for i, fs := range list {
		prefix := ""
		if len(list) > 1 || top["scenarios"] != nil {
			prefix = fmt.Sprintf("scenarios[%d].", i)
		}
		s, err := fs.scenario()
		var c Compiled
		if err == nil {
			c, err = Compile(s)
		}
		if err != nil {
			var ferr *FieldError
			if errors.As(err, &ferr) {
				e := *ferr
				e.File = name
				e.Path = prefix + e.Path
				return nil, &e
			}
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if seen[s.Name] {
			return nil, &FieldError{File: name, Path: prefix + "name", Problem: fmt.Sprintf("duplicate scenario name %q", s.Name), Accepted: "unique names"}
		}
		seen[s.Name] = true
		out = append(out, c)
	}
	return out, nil
}

// The file schema: snake_case names, durations and sizes as strings
// ("250ms", "1MiB"), mirrored into [Scenario] by scenario().
type fileList struct {
	Scenarios []fileScenario `yaml:"scenarios" json:"scenarios"`
}

type fileScenario struct {
	Name         string       `yaml:"name" json:"name"`
	Description  string       `yaml:"description" json:"description"`
	Quick        bool         `yaml:"quick" json:"quick"`
	TargetOnly   bool         `yaml:"target_only" json:"target_only"`
	Origin       string       `yaml:"origin" json:"origin"`
	Target       *fileTarget  `yaml:"target" json:"target"`
	Topology     fileTopology `yaml:"topology" json:"topology"`
	Workload     []fileReq    `yaml:"workload" json:"workload"`
	Concurrency  int          `yaml:"concurrency" json:"concurrency"`
	Count        int          `yaml:"count" json:"count"`
	Duration     fileDuration `yaml:"duration" json:"duration"`
	Seed         *int64       `yaml:"seed" json:"seed"`
	Client       fileClient   `yaml:"client" json:"client"`
	Service      fileService  `yaml:"service" json:"service"`
	Restarts     fileRestarts `yaml:"restarts" json:"restarts"`
	StallTimeout fileDuration `yaml:"stall_timeout" json:"stall_timeout"`
	Verify       fileVerify   `yaml:"verify" json:"verify"`
	Expect       fileExpect   `yaml:"expect" json:"expect"`
}

type fileVerify struct {
	RequireEndToEnd  bool `yaml:"require_end_to_end" json:"require_end_to_end"`
	ReferenceFetches int  `yaml:"reference_fetches" json:"reference_fetches"`
}

type fileTopology struct {
	Mode    string    `yaml:"mode" json:"mode"`
	Gateway string    `yaml:"gateway" json:"gateway"`
	Hops    []fileHop `yaml:"hops" json:"hops"`
}

type fileHop struct {
	Network      string `yaml:"network" json:"network"`
	TLS          bool   `yaml:"tls" json:"tls"`
	Protocol     string `yaml:"protocol" json:"protocol"`
	ServerFaults string `yaml:"server_faults" json:"server_faults"`
	ClientFaults string `yaml:"client_faults" json:"client_faults"`
	StreamFaults string `yaml:"stream_faults" json:"stream_faults"`
}

type fileReq struct {
	Method    string            `yaml:"method" json:"method"`
	Path      string            `yaml:"path" json:"path"`
	Weight    int               `yaml:"weight" json:"weight"`
	Headers   map[string]string `yaml:"headers" json:"headers"`
	Upload    fileSize          `yaml:"upload" json:"upload"`
	Expect100 bool              `yaml:"expect_100" json:"expect_100"`
	Want      *fileWant         `yaml:"want" json:"want"`
}

type fileWant struct {
	Length        fileSize `yaml:"length" json:"length"`
	Digest        string   `yaml:"digest" json:"digest"`
	ReferenceURL  string   `yaml:"reference_url" json:"reference_url"`
	ReferenceFile string   `yaml:"reference_file" json:"reference_file"`
}

type fileService struct {
	WriteTimeout      fileDuration `yaml:"write_timeout" json:"write_timeout"`
	DisableKeepAlives bool         `yaml:"disable_keep_alives" json:"disable_keep_alives"`
}

type fileClient struct {
	ConnectionClose bool `yaml:"connection_close" json:"connection_close"`
}

type fileTarget struct {
	Server string `yaml:"server" json:"server"`
}

type fileRestarts struct {
	Every  fileDuration `yaml:"every" json:"every"`
	Grace  fileDuration `yaml:"grace" json:"grace"`
	Reload bool         `yaml:"reload" json:"reload"`
}

type fileExpect struct {
	Kind            string   `yaml:"kind" json:"kind"`
	Outcomes        []string `yaml:"outcomes" json:"outcomes"`
	Silent          string   `yaml:"silent" json:"silent"`
	Tolerate        []string `yaml:"tolerate" json:"tolerate"`
	AllowUnverified bool     `yaml:"allow_unverified" json:"allow_unverified"`
}

// fileDuration and fileSize hold the text of a duration or size (a YAML or
// JSON string, or a bare number) until scenario() parses it with its path.
type fileDuration string
type fileSize string

func (d *fileDuration) UnmarshalYAML(n *yaml.Node) error { *d = fileDuration(n.Value); return nil }
func (d *fileSize) UnmarshalYAML(n *yaml.Node) error     { *d = fileSize(n.Value); return nil }
func (d *fileDuration) UnmarshalJSON(b []byte) error {
	s, err := scalarJSON(b)
	*d = fileDuration(s)
	return err
}
func (d *fileSize) UnmarshalJSON(b []byte) error {
	s, err := scalarJSON(b)
	*d = fileSize(s)
	return err
}

func scalarJSON(b []byte) (string, error) {
	if len(b) > 0 && b[0] == '"' {
		var s string
		err := json.Unmarshal(b, &s)
		return s, err
	}
	return string(b), nil
}

func (fs fileScenario) scenario() (Scenario, error) {
	ferr := func(path string, err error, accepted string) error {
		return &FieldError{Scenario: fs.Name, Path: path, Problem: err.Error(), Accepted: accepted, Err: err}
	}
	s := Scenario{
		Name:        fs.Name,
		Description: fs.Description,
		Quick:       fs.Quick,
		TargetOnly:  fs.TargetOnly,
		Origin:      fs.Origin,
		Concurrency: fs.Concurrency,
		Count:       fs.Count,
		Seed:        DefaultSeed,
		Topology:    Topology{Mode: Mode(fs.Topology.Mode), Gateway: GatewayKind(fs.Topology.Gateway)},
		Service:     Service{DisableKeepAlives: fs.Service.DisableKeepAlives},
		Client:      Client{ConnectionClose: fs.Client.ConnectionClose},
		Restarts:    Restarts{Reload: fs.Restarts.Reload},
		Verify:      Verify{RequireEndToEnd: fs.Verify.RequireEndToEnd, ReferenceFetches: fs.Verify.ReferenceFetches},
		Expect: results.Expectation{
			Kind:            results.Expect(fs.Expect.Kind),
			Outcomes:        outcomes(fs.Expect.Outcomes),
			Silent:          results.SilentRule(fs.Expect.Silent),
			Tolerate:        outcomes(fs.Expect.Tolerate),
			AllowUnverified: fs.Expect.AllowUnverified,
		},
	}
	if fs.Seed != nil {
		s.Seed = *fs.Seed
	}
	if fs.Target != nil {
		s.Target = &TargetRecipe{Server: fs.Target.Server}
	}
	for i, h := range fs.Topology.Hops {
		hop := Hop{Network: Network(h.Network), TLS: h.TLS, Protocol: Protocol(h.Protocol)}
		for _, side := range []struct {
			field string
			text  string
			dst   *transport.Faults
		}{{"server_faults", h.ServerFaults, &hop.ServerFaults}, {"client_faults", h.ClientFaults, &hop.ClientFaults}} {
			f, err := transport.ParseFaults(side.text)
			if err != nil {
				return s, &FieldError{Scenario: fs.Name, Path: fmt.Sprintf("topology.hops[%d].%s", i, side.field), Problem: err.Error(), Err: err}
			}
			*side.dst = f
		}
		sf, err := h2fault.Parse(h.StreamFaults)
		if err != nil {
			return s, &FieldError{Scenario: fs.Name, Path: fmt.Sprintf("topology.hops[%d].stream_faults", i), Problem: err.Error(), Err: err}
		}
		hop.StreamFaults = sf
		s.Topology.Hops = append(s.Topology.Hops, hop)
	}
	for i, r := range fs.Workload {
		req := Request{Method: r.Method, Path: r.Path, Weight: r.Weight, Headers: r.Headers, Expect100: r.Expect100}
		if file, ok := strings.CutPrefix(strings.TrimSpace(string(r.Upload)), "@"); ok {
			req.UploadFile = file
		} else if n, err := parseSize(string(r.Upload)); err != nil {
			return s, ferr(fmt.Sprintf("workload[%d].upload", i), err, sizeAccepted+", or @file")
		} else {
			req.Upload = n
		}
		if w := r.Want; w != nil {
			req.Want = &Want{ReferenceURL: w.ReferenceURL, ReferenceFile: w.ReferenceFile}
			if err := req.Want.Digest.UnmarshalText([]byte(strings.TrimSpace(w.Digest))); err != nil {
				return s, ferr(fmt.Sprintf("workload[%d].want.digest", i), err, "an RFC 9530 field such as sha-256=:base64:")
			}
			if strings.TrimSpace(string(w.Length)) != "" {
				n, err := parseSize(string(w.Length))
				if err != nil {
					return s, ferr(fmt.Sprintf("workload[%d].want.length", i), err, sizeAccepted)
				}
				req.Want.Length = &n
			}
		}
		s.Workload.Requests = append(s.Workload.Requests, req)
	}
	durations := []struct {
		path string
		text fileDuration
		dst  *time.Duration
	}{
		{"duration", fs.Duration, &s.Duration},
		{"stall_timeout", fs.StallTimeout, &s.StallTimeout},
		{"service.write_timeout", fs.Service.WriteTimeout, &s.Service.WriteTimeout},
		{"restarts.every", fs.Restarts.Every, &s.Restarts.Every},
		{"restarts.grace", fs.Restarts.Grace, &s.Restarts.Grace},
	}
	for _, d := range durations {
		v, err := parseDuration(string(d.text))
		if err != nil {
			return s, ferr(d.path, err, durationAccepted)
		}
		*d.dst = v
	}
	return s, nil
}

// outcomes converts outcome names; unknown ones are kept as they are for
// the expectation's own validation to name.
func outcomes(names []string) []results.Outcome {
	if names == nil {
		return nil
	}
	out := make([]results.Outcome, len(names))
	for i, n := range names {
		out[i] = results.Outcome(n)
	}
	return out
}

const (
	durationAccepted = "Go durations such as 250ms, 2s, 1m30s; 0 or empty for the default"
	sizeAccepted     = "a byte count or a size such as 512, 64KiB, 3MiB, 1.5MB (units B, kB, MB, GB: 1000-based; KiB, MiB, GiB: 1024-based; a whole number of bytes)"
)

func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("bad duration %q", s)
	}
	return d, nil
}

// parseSize reads a size in transport's grammar, the one every part of
// truncheck uses; empty is 0.
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	n, err := transport.ParseSize(s)
	if err != nil {
		return 0, fmt.Errorf("bad size %q", s) // the accepted forms go with the field's path
	}
	return n, nil
}

// jsonTree decodes JSON into a generic tree (numbers kept as text) and
// rejects trailing data.
func jsonTree(data []byte) (any, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("invalid JSON: data after the top-level value")
	}
	return v, nil
}

// yamlTree decodes one YAML document into a generic tree; a second
// document is an error (it would be ignored otherwise).
func yamlTree(data []byte) (any, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var v any
	if err := dec.Decode(&v); err != nil {
		if err == io.EOF {
			return nil, nil
		}
		return nil, fmt.Errorf("invalid YAML: %w", err)
	}
	var extra any
	if err := dec.Decode(&extra); err != io.EOF {
		return nil, errors.New("invalid YAML: more than one document (accepted: one document; list scenarios under `scenarios:`)")
	}
	return v, nil
}

// strictDecode decodes again into the typed schema with unknown fields
// refused by the decoder itself (yaml KnownFields, json
// DisallowUnknownFields): belt and braces behind checkTree.
func strictDecode(isJSON bool, data []byte, dst any) error {
	if isJSON {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		return dec.Decode(dst)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	return dec.Decode(dst)
}

var (
	durationType = reflect.TypeOf(fileDuration(""))
	sizeType     = reflect.TypeOf(fileSize(""))
)

// checkTree walks a generic decoded tree against the schema type t and
// returns the first unknown field or wrong type with its path.
func checkTree(v any, t reflect.Type, path string) *FieldError {
	where := path
	if where == "" {
		where = "(top level)"
	}
	if v == nil {
		return nil // an explicit null leaves the zero value
	}
	switch {
	case t == durationType || t == sizeType:
		switch v.(type) {
		case string, int, int64, uint64, float64, json.Number:
			return nil
		}
		acc := durationAccepted
		if t == sizeType {
			acc = sizeAccepted
		}
		return &FieldError{Path: where, Problem: fmt.Sprintf("got %s", kindOf(v)), Accepted: acc}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return checkTree(v, t.Elem(), path)
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return &FieldError{Path: where, Problem: fmt.Sprintf("got %s, want a mapping", kindOf(v)), Accepted: strings.Join(fieldNames(t), ", ")}
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			f, ok := fieldByTag(t, k)
			if !ok {
				return &FieldError{Path: join(path, k), Problem: fmt.Sprintf("unknown field %q", k), Accepted: strings.Join(fieldNames(t), ", ")}
			}
			if ferr := checkTree(m[k], f.Type, join(path, k)); ferr != nil {
				return ferr
			}
		}
		return nil
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return &FieldError{Path: where, Problem: fmt.Sprintf("got %s, want a mapping of names to values", kindOf(v))}
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if ferr := checkTree(m[k], t.Elem(), join(path, k)); ferr != nil {
				return ferr
			}
		}
		return nil
	case reflect.Slice:
		l, ok := v.([]any)
		if !ok {
			return &FieldError{Path: where, Problem: fmt.Sprintf("got %s, want a list", kindOf(v))}
		}
		for i, e := range l {
			if ferr := checkTree(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); ferr != nil {
				return ferr
			}
		}
		return nil
	case reflect.String:
		if _, ok := v.(string); !ok {
			return &FieldError{Path: where, Problem: fmt.Sprintf("got %s, want a string (quote it)", kindOf(v))}
		}
		return nil
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			return &FieldError{Path: where, Problem: fmt.Sprintf("got %s, want a boolean", kindOf(v)), Accepted: "true, false"}
		}
		return nil
	case reflect.Int, reflect.Int64:
		switch n := v.(type) {
		case int, int64, uint64:
			return nil
		case json.Number:
			if _, err := n.Int64(); err == nil {
				return nil
			}
		}
		return &FieldError{Path: where, Problem: fmt.Sprintf("got %s, want an integer", kindOf(v))}
	}
	return &FieldError{Path: where, Problem: "unsupported field type " + t.String()}
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		if f := t.Field(i); tagName(f) == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func fieldNames(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		out = append(out, tagName(t.Field(i)))
	}
	return out
}

func tagName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name
}

func kindOf(v any) string {
	switch x := v.(type) {
	case map[string]any, map[any]any:
		return "a mapping"
	case []any:
		return "a list"
	case string:
		return fmt.Sprintf("the string %q", x)
	case bool:
		return fmt.Sprintf("the boolean %v", x)
	case int, int64, uint64, float64, json.Number:
		return fmt.Sprintf("the number %v", x)
	}
	return fmt.Sprintf("a %T", v)
}
