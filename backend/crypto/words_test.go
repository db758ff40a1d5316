package crypto

import (
	"bytes"
	"crypto/ed25519"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func seededKey(b byte) ed25519.PublicKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, ed25519.SeedSize)).Public().(ed25519.PublicKey)
}

func seededFingerprint(t *testing.T, b byte) Fingerprint {
	t.Helper()
	fp, err := KeyFingerprint(seededKey(b))
	if err != nil {
		t.Fatal(err)
	}
	return fp
}

func TestWordList(t *testing.T) {
	list := wordList()
	if len(list) != 2048 {
		t.Fatalf("%d words, want 2048", len(list))
	}
	if strings.Count(wordsTxt, "\n") != 2048 || !strings.HasSuffix(wordsTxt, "\n") {
		t.Error("words.txt is not one word per line")
	}
	word := regexp.MustCompile(`^[a-z]{3,8}$`)
	seen := map[string]bool{}
	prefixes := map[string]bool{}
	for _, w := range list {
		if !word.MatchString(w) {
			t.Errorf("word %q: want 3 to 8 lowercase letters", w)
		}
		if seen[w] {
			t.Errorf("word %q twice", w)
		}
		seen[w] = true
		p := w[:min(4, len(w))]
		if prefixes[p] {
			t.Errorf("prefix %q twice", p)
		}
		prefixes[p] = true
	}
	if !slices.IsSorted(list) {
		t.Error("list not sorted")
	}
}

func TestFingerprint(t *testing.T) {
	pub := seededKey(1)
	fp, err := KeyFingerprint(pub)
	if err != nil {
		t.Fatal(err)
	}
	const want = "34750f98bd59fcfc946da45aaabe933be154a4b5094e1c4abf42866505f3c97e"
	if fp.String() != want {
		t.Errorf("fingerprint %s, want %s", fp, want)
	}
	back, err := ParseFingerprint(want)
	if err != nil || back != fp {
		t.Errorf("parse: %v %v", back, err)
	}
	// The client id is the fingerprint's first 80 bits.
	if id, _ := ClientID(pub); id != "GR2Q-7GF5-LH6P-ZFDN" {
		t.Errorf("client id %s", id)
	}
	for _, bad := range []string{"", "abc", want[:62], want + "00", strings.Replace(want, "3", "x", 1)} {
		if _, err := ParseFingerprint(bad); err == nil {
			t.Errorf("ParseFingerprint(%q) accepted", bad)
		}
	}
	if _, err := KeyFingerprint(pub[:31]); err == nil {
		t.Error("short key accepted")
	}
}

func TestSafetyWordsVector(t *testing.T) {
	// Cross-checked with an independent Python computation (SHA-256 over the length-prefixed
	// label and sorted fingerprints, 11-bit big-endian chunks into words.txt).
	want := "same game position huge party mutual author volcano agent happy virtual clinic"
	a, b := seededFingerprint(t, 1), seededFingerprint(t, 2)
	if got := strings.Join(SafetyWords(a, b), " "); got != want {
		t.Errorf("words = %q, want %q", got, want)
	}
	if got := strings.Join(SafetyWords(b, a), " "); got != want {
		t.Errorf("swapped: words = %q, want %q", got, want)
	}
}

func TestSafetyWordsDistinguish(t *testing.T) {
	a, b, c := seededFingerprint(t, 1), seededFingerprint(t, 2), seededFingerprint(t, 3)
	ab := SafetyWords(a, b)
	if len(ab) != SafetyWordCount {
		t.Fatalf("%d words", len(ab))
	}
	for name, other := range map[string][]string{
		"other key": SafetyWords(a, c),
		"same key":  SafetyWords(a, a),
	} {
		if slices.Equal(ab, other) {
			t.Errorf("%s: same words", name)
		}
	}
	flipped := b
	flipped[31] ^= 1
	if slices.Equal(ab, SafetyWords(a, flipped)) {
		t.Error("one bit of a fingerprint did not change the words")
	}
}

func TestBits11(t *testing.T) {
	// 11111111 111|00000 000000|00 00000001 1|1111111
	b := []byte{0xff, 0xe0, 0x00, 0x01, 0xff}
	for i, want := range []int{2047, 0, 3} {
		if got := bits11(b, i); got != want {
			t.Errorf("chunk %d = %d, want %d", i, got, want)
		}
	}
}
