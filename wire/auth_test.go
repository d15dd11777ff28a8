package wire

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicedb/sluice/executor"
)

// TestSCRAM checks SCRAM-SHA-256 with the right and a wrong password.
func TestSCRAM(t *testing.T) {
	ts := startServer(t, Config{Password: "s3cret"})
	ctx := context.Background()
	url := func(pw string) string {
		return strings.Replace(ts.url(""), "tester@", "tester:"+pw+"@", 1)
	}
	c, err := pgx.Connect(ctx, url("s3cret"))
	if err != nil {
		t.Fatalf("right password: %v", err)
	}
	var one int64
	if err := c.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatal(err)
	}
	c.Close(ctx)
	_, err = pgx.Connect(ctx, url("wrong"))
	if pe := pgErr(t, err); pe.Code != "28P01" {
		t.Fatalf("wrong password: %v", pe)
	}
	_, err = pgx.Connect(ctx, ts.url(""))
	if err == nil {
		t.Fatal("no password accepted")
	}
}

// TestTrustNeedsLoopback checks trust auth is refused off loopback.
func TestTrustNeedsLoopback(t *testing.T) {
	eng, err := executor.Open(executor.Options{BarrierInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	if _, err := NewServer(eng, Config{Listen: "0.0.0.0:5488"}); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("want refusal, got %v", err)
	}
	if _, err := NewServer(eng, Config{Listen: "0.0.0.0:5488", Password: "x"}); err != nil {
		t.Fatal(err)
	}
}

// TestTLS connects over TLS with a self-signed certificate and SCRAM (over
// TLS clients send the y,, gs2 header), and checks the 'N' answer when TLS
// is not configured.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeSelfSigned(t, dir)
	ts := startServer(t, Config{TLSCert: cert, TLSKey: key, Password: "pw"})
	ctx := context.Background()
	url := strings.Replace(strings.Replace(ts.url(""), "sslmode=disable", "sslmode=require", 1), "tester@", "tester:pw@", 1)
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("TLS connect: %v", err)
	}
	defer c.Close(ctx)
	if !isTLS(c.PgConn().Conn()) {
		t.Fatal("connection is not TLS")
	}
	var one int64
	if err := c.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatal(err)
	}
	// Cancel arrives in plain text on a new connection, as psql sends it.
	if err := c.PgConn().CancelRequest(ctx); err != nil {
		t.Fatal(err)
	}
	// Without TLS configured, SSLRequest gets 'N' and sslmode=prefer falls back.
	plain := startServer(t, Config{})
	c2, err := pgx.Connect(ctx, strings.Replace(plain.url(""), "sslmode=disable", "sslmode=prefer", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close(ctx)
	if isTLS(c2.PgConn().Conn()) {
		t.Fatal("unexpected TLS")
	}
}

func isTLS(c net.Conn) bool {
	_, ok := c.(interface{ Handshake() error })
	return ok
}

// writeSelfSigned writes a self-signed certificate for 127.0.0.1.
func writeSelfSigned(t *testing.T, dir string) (string, string) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, key
}
