package crypto

import (
	"bytes"
	"errors"
	"testing"
)

func TestSealOpen(t *testing.T) {
	k, err := NewSessionKey()
	if err != nil {
		t.Fatal(err)
	}
	plain := []byte(`{"code":"A","sources":["/home/me/docs"]}`)
	sealed := k.Seal(plain, "node:A")
	if bytes.Contains(sealed, []byte("/home/me")) {
		t.Fatal("sealed data holds the plain text")
	}
	got, err := k.Open(sealed, "node:A")
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("open: %q %v", got, err)
	}
	other, _ := NewSessionKey()
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	for name, c := range map[string]func() ([]byte, error){
		"other key":     func() ([]byte, error) { return other.Open(sealed, "node:A") },
		"other context": func() ([]byte, error) { return k.Open(sealed, "node:B") },
		"tampered":      func() ([]byte, error) { return k.Open(tampered, "node:A") },
		"truncated":     func() ([]byte, error) { return k.Open(sealed[:10], "node:A") },
	} {
		if _, err := c(); !errors.Is(err, ErrOpen) {
			t.Errorf("%s: %v, want ErrOpen", name, err)
		}
	}
}
