package versionfile

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"math/big"
	"strings"
	"testing"
	"time"
)

// TestKeyBits: keyBits reads the key size that crypto/x509 (and OpenSSL's
// EVP_PKEY_bits) gives, for RSA and the named EC curves; other keys and
// broken certificates are errors, never a size.
func TestKeyBits(t *testing.T) {
	t.Parallel()
	cert := func(pub crypto.PublicKey, priv crypto.Signer) []byte {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<31, 0)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	for _, bits := range []int{1024, 2048} {
		k, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := keyBits(cert(&k.PublicKey, k)); got != bits || err != nil {
			t.Errorf("RSA %d: %d, %v", bits, got, err)
		}
	}
	for c, bits := range map[elliptic.Curve]int{elliptic.P224(): 224, elliptic.P256(): 256, elliptic.P384(): 384, elliptic.P521(): 521} {
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := keyBits(cert(&k.PublicKey, k)); got != bits || err != nil {
			t.Errorf("EC %d: %d, %v", bits, got, err)
		}
	}
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := keyBits(cert(pub, priv)); err == nil || !strings.Contains(err.Error(), "1.3.101.112") {
		t.Errorf("ed25519: %v, want the algorithm named", err)
	}
	k, _ := rsa.GenerateKey(rand.Reader, 1024)
	der := cert(&k.PublicKey, k)
	for _, bad := range [][]byte{nil, der[:len(der)/2], append(append([]byte{}, der...), 0)} {
		if n, err := keyBits(bad); err == nil {
			t.Errorf("%d bytes: %d bits, want an error", len(bad), n)
		}
	}
}

// FuzzKeyBits: any bytes where a certificate is read give a size or an
// error, never a panic.
func FuzzKeyBits(f *testing.F) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<31, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(der)
	f.Add(der[:len(der)/3])
	f.Fuzz(func(t *testing.T, der []byte) {
		if n, err := keyBits(der); err == nil && n <= 0 {
			t.Errorf("%d bits without an error", n)
		}
	})
}
