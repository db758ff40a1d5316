package crypto

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"strings"
	"sync"
)

// words.txt is the BIP-39 English word list (2048 words of 3 to 8 letters, unique in their
// first four letters), as shipped by github.com/trezor/python-mnemonic:
//
//	Copyright (c) 2013 Pavol Rusnak
//
//	Permission is hereby granted, free of charge, to any person obtaining a copy of
//	this software and associated documentation files (the "Software"), to deal in
//	the Software without restriction, including without limitation the rights to
//	use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies
//	of the Software, and to permit persons to whom the Software is furnished to do
//	so, subject to the following conditions:
//
//	The above copyright notice and this permission notice shall be included in all
//	copies or substantial portions of the Software.
//
//	THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
//	IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
//	FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
//	AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY,
//	WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN
//	CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
//
//go:embed words.txt
var wordsTxt string

// wordList parses the embedded list once; the result is never modified.
var wordList = sync.OnceValue(func() []string { return strings.Fields(wordsTxt) })

// SafetyWordCount is how many safety words two parties compare: 12 words of 11 bits.
//
// The words are a 132-bit hash of both keys. A server in the middle that swaps both keys needs
// words(joiner, fake member) == words(fake joiner, member), a collision it can search for
// offline since identity keys are public: about 2^(bits/2) work. 6 words (2^33) would be
// cheap; 12 (2^66) are not.
const SafetyWordCount = 12

const labelSafetyWords = "ferry safety words v1"

// SafetyWords are the words both users read out to check, out of band, that each holds the
// other's real identity key. They depend on both fingerprints but not on their order, so both
// sides show the same words. Only integer arithmetic is used.
func SafetyWords(a, b Fingerprint) []string {
	lo, hi := a, b
	if bytes.Compare(lo[:], hi[:]) > 0 {
		lo, hi = hi, lo
	}
	sum := sha256.Sum256(transcript(labelSafetyWords, lo[:], hi[:]))
	list := wordList()
	words := make([]string, SafetyWordCount)
	for i := range words {
		words[i] = list[bits11(sum[:], i)]
	}
	return words
}

// bits11 is the i-th 11-bit big-endian chunk of b.
func bits11(b []byte, i int) int {
	v := 0
	for bit := i * 11; bit < (i+1)*11; bit++ {
		v = v<<1 | int(b[bit/8]>>(7-bit%8)&1)
	}
	return v
}
