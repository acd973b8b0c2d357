package harness

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"time"

	"github.com/truncheck/truncheck/scenarios"
)

// tierName is the name every in-process tier's certificate carries and
// every in-process client expects (tls.Config.ServerName), whatever
// placeholder host its URLs use.
const tierName = "truncheck.test"

// certLifetime is how long a run's certificates are valid: long enough for
// a soak, short enough to be worthless once it ends.
const certLifetime = 24 * time.Hour

// runCA is a certificate authority made in memory for one run: a CA
// certificate and a server certificate it signed, for tierName and the
// loopback addresses. Nothing is written to disk and no system root is
// trusted: a client of the run trusts this CA only.
type runCA struct {
	roots  *x509.CertPool
	server tls.Certificate
}

func newRunCA() (*runCA, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("run CA: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "truncheck run CA"},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(certLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("run CA: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("run CA: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("run CA: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: tierName},
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     now.Add(certLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{tierName, "localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("run CA: server certificate: %w", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(caCert)
	return &runCA{roots: roots, server: tls.Certificate{Certificate: [][]byte{der, caDER}, PrivateKey: key}}, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	return n
}

// serverConfig is the TLS configuration of a tier serving proto: its
// certificate, and the ALPN protocols it offers (HTTP/2 servers offer
// http/1.1 too, as deployed ones do; the client's offer decides).
func (ca *runCA) serverConfig(proto scenarios.Protocol) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{ca.server}, NextProtos: alpnOffer(proto, true), MinVersion: tls.VersionTLS12}
}

// clientConfig is the TLS configuration of an in-process client of proto:
// the run's CA as the only root, tierName expected.
func (ca *runCA) clientConfig(proto scenarios.Protocol) *tls.Config {
	return &tls.Config{RootCAs: ca.roots, ServerName: tierName, NextProtos: alpnOffer(proto, false), MinVersion: tls.VersionTLS12}
}

// alpnOffer is the ALPN list of proto: a client offers exactly its
// protocol, a server offering HTTP/2 offers http/1.1 as well.
func alpnOffer(proto scenarios.Protocol, server bool) []string {
	if proto == scenarios.HTTP2 {
		if server {
			return []string{"h2", "http/1.1"}
		}
		return []string{"h2"}
	}
	return []string{"http/1.1"}
}
