package control

import (
	"encoding/json"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The shapes a Toxiproxy client reads, declared the way such a client declares them:
// what it cannot decode, it cannot use.
type tpProxy struct {
	Name     string    `json:"name"`
	Listen   string    `json:"listen"`
	Upstream string    `json:"upstream"`
	Enabled  bool      `json:"enabled"`
	Toxics   []tpToxic `json:"toxics"`
}

type tpToxic struct {
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	Stream     string         `json:"stream"`
	Toxicity   float32        `json:"toxicity"`
	Attributes map[string]any `json:"attributes"`
}

// TestToxiproxyDocumentedBodies posts the JSON bodies Toxiproxy's HTTP API documents
// (proxy fields name, listen, upstream, enabled; toxic fields name, type, stream,
// toxicity, attributes; its endpoints and their statuses), written here from those
// documented shapes, and reads the answers as a Toxiproxy client would: a test written
// for Toxiproxy can point at this API.
func TestToxiproxyDocumentedBodies(t *testing.T) {
	up := upstreamServer(t)
	upAddr := up.Addr().String()
	_, c := startServer(t, Config{Create: true, Version: "v1"})
	do := func(method, path, body string, wantStatus int, out any) {
		t.Helper()
		var b []byte
		if body != "" {
			b = []byte(body)
		}
		status, got, err := c.Do(ctx(t), method, path, b)
		require.NoError(t, err)
		require.Equal(t, wantStatus, status, "%s %s: %s", method, path, got)
		if out != nil {
			require.NoError(t, json.Unmarshal(got, out), "%s %s: %s", method, path, got)
		}
	}

	var v map[string]string
	do("GET", "/version", "", 200, &v)
	assert.Equal(t, "v1", v["version"])

	var redis tpProxy
	do("POST", "/proxies", `{"name": "redis", "listen": "127.0.0.1:0", "upstream": "`+upAddr+`", "enabled": true}`, 201, &redis)
	assert.Equal(t, "redis", redis.Name)
	assert.Equal(t, upAddr, redis.Upstream)
	assert.True(t, redis.Enabled)
	assert.NotEqual(t, "127.0.0.1:0", redis.Listen, "the port it got, as Toxiproxy answers")
	assert.NotNil(t, redis.Toxics)
	assert.Empty(t, redis.Toxics)

	var tx tpToxic
	do("POST", "/proxies/redis/toxics",
		`{"name": "latency_downstream", "type": "latency", "stream": "downstream", "toxicity": 1.0, "attributes": {"latency": 10, "jitter": 5}}`, 200, &tx)
	assert.Equal(t, tpToxic{Name: "latency_downstream", Type: "latency", Stream: "downstream", Toxicity: 1,
		Attributes: map[string]any{"latency": float64(10), "jitter": float64(5)}}, tx)

	do("POST", "/proxies/redis/toxics", `{"type": "limit_data", "attributes": {"bytes": 1000}}`, 200, &tx)
	assert.Equal(t, "limit_data_downstream", tx.Name, "named <type>_<stream> by default")
	assert.Equal(t, "downstream", tx.Stream, "downstream by default")
	assert.Equal(t, float32(1), tx.Toxicity, "toxicity 1 by default")
	assert.Equal(t, 1000, fetch(t, redis.Listen))

	do("POST", "/proxies/redis/toxics/limit_data_downstream", `{"attributes": {"bytes": 2000}}`, 200, &tx)
	assert.Equal(t, float64(2000), tx.Attributes["bytes"])
	assert.Equal(t, 2000, fetch(t, redis.Listen), "an updated toxic acts on the next conn")
	do("PATCH", "/proxies/redis/toxics/limit_data_downstream", `{"toxicity": 1.0, "attributes": {"bytes": 3000}}`, 200, &tx)
	assert.Equal(t, 3000, fetch(t, redis.Listen))

	var list []tpToxic
	do("GET", "/proxies/redis/toxics", "", 200, &list)
	assert.Len(t, list, 2)
	do("GET", "/proxies/redis/toxics/latency_downstream", "", 200, &tx)
	assert.Equal(t, "latency", tx.Type)
	do("DELETE", "/proxies/redis/toxics/limit_data_downstream", "", 204, nil)
	assert.Equal(t, bodySize, fetch(t, redis.Listen))

	// Down and up again: Toxiproxy's way of taking a service down.
	do("POST", "/proxies/redis", `{"enabled": false}`, 200, &redis)
	assert.False(t, redis.Enabled)
	_, err := net.DialTimeout("tcp", redis.Listen, time.Second)
	assert.Error(t, err, "a disabled proxy does not listen")
	do("PATCH", "/proxies/redis", `{"enabled": true}`, 200, &redis)
	assert.Equal(t, bodySize, fetch(t, redis.Listen), "the latency toxic stays; nothing cuts")

	// A Toxiproxy client saves a proxy with its (empty) toxics list.
	var mysql tpProxy
	do("POST", "/proxies", `{"name":"mysql","listen":"127.0.0.1:0","upstream":"`+upAddr+`","enabled":true,"toxics":null}`, 201, &mysql)

	var pop struct {
		Proxies []tpProxy `json:"proxies"`
	}
	do("POST", "/populate", `[{"name": "redis", "listen": "`+redis.Listen+`", "upstream": "`+upAddr+`"},
		{"name": "pg", "listen": "127.0.0.1:0", "upstream": "`+upAddr+`", "enabled": true}]`, 201, &pop)
	require.Len(t, pop.Proxies, 2)
	assert.Len(t, pop.Proxies[0].Toxics, 1, "redis is the same: left as it is, toxic and all")
	assert.Equal(t, "pg", pop.Proxies[1].Name)

	var all map[string]tpProxy
	do("GET", "/proxies", "", 200, &all)
	assert.Len(t, all, 3)
	assert.Equal(t, mysql.Listen, all["mysql"].Listen)

	// Every toxic type that maps, with the faults it stands for.
	for _, tt := range []struct{ body, fault string }{
		{`{"type": "bandwidth", "stream": "upstream", "attributes": {"rate": 100}}`, "bandwidth=100kB"},
		{`{"type": "timeout", "name": "hang", "attributes": {"timeout": 0}}`, "stall-after=0"},
		{`{"type": "slicer", "stream": "upstream", "attributes": {"average_size": 64, "size_variation": 0, "delay": 10}}`, "write-slice=64,slow-read=64/10µs"},
		{`{"type": "reset_peer", "stream": "upstream", "attributes": {"timeout": 0}}`, "reset-after=0"},
		{`{"type": "limit_data", "name": "half", "toxicity": 0.5, "attributes": {"bytes": 10}}`, "close-after=10@p=0.5"},
	} {
		var got Toxic
		do("POST", "/proxies/pg/toxics", tt.body, 200, &got)
		assert.Equal(t, tt.fault, got.Fault, tt.body)
	}

	do("POST", "/reset", "", 204, nil)
	do("GET", "/proxies", "", 200, &all)
	for name, p := range all {
		assert.Empty(t, p.Toxics, name)
		assert.True(t, p.Enabled, name)
	}
	do("DELETE", "/proxies/mysql", "", 204, nil)
	do("GET", "/proxies/mysql", "", http.StatusNotFound, nil)
}
