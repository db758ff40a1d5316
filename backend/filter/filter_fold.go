package filter

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// filterGlob matches text against a pattern whose only wildcard is '*', ignoring case (Unicode
// simple folding, as strings.EqualFold), without allocating.
type filterGlob struct {
	segs       [][]rune // folded pieces of the pattern between the stars
	start, end bool     // anchored at the start, at the end
}

// newFilterGlob compiles a pattern: anchored at both ends for ==, at the start for a path prefix,
// at neither for a substring.
func newFilterGlob(pattern string, start, end bool) filterGlob {
	g := filterGlob{start: start, end: end}
	for _, piece := range strings.Split(pattern, "*") {
		seg := make([]rune, 0, len(piece))
		for _, r := range piece {
			seg = append(seg, foldRune(r))
		}
		g.segs = append(g.segs, seg)
	}
	return g
}

func (g *filterGlob) match(s string) bool {
	segs := g.segs
	if g.start {
		n, ok := prefixFold(s, segs[0])
		if !ok {
			return false
		}
		s, segs = s[n:], segs[1:]
	}
	if g.end {
		if len(segs) == 0 {
			return s == ""
		}
		n, ok := suffixFold(s, segs[len(segs)-1])
		if !ok {
			return false
		}
		s, segs = s[:len(s)-n], segs[:len(segs)-1]
	}
	// Leftmost matches of the middle pieces are enough with '*' as the only wildcard.
	for _, seg := range segs {
		i, n := indexFold(s, seg)
		if i < 0 {
			return false
		}
		s = s[i+n:]
	}
	return true
}

// foldRune maps every rune of a simple-folding orbit to the same rune, the orbit's smallest: 'K'
// for k, K and the Kelvin sign.
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'a' <= r && r <= 'z' {
			r -= 'a' - 'A'
		}
		return r
	}
	m := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		m = min(m, f)
	}
	return m
}

// foldAt returns the folded rune at the start of a non-empty s and its size. Callers inline the
// ASCII case.
func foldAt(s string) (rune, int) {
	r, n := utf8.DecodeRuneInString(s)
	return foldRune(r), n
}

// prefixFold reports whether s starts with seg and the length of that prefix in s.
func prefixFold(s string, seg []rune) (int, bool) {
	i := 0
	for _, r := range seg {
		if i >= len(s) {
			return 0, false
		}
		if c := s[i]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			if rune(c) != r {
				return 0, false
			}
			i++
			continue
		}
		c, n := foldAt(s[i:])
		if c != r {
			return 0, false
		}
		i += n
	}
	return i, true
}

// suffixFold reports whether s ends with seg and the length of that suffix in s.
func suffixFold(s string, seg []rune) (int, bool) {
	j := len(s)
	for k := len(seg) - 1; k >= 0; k-- {
		if j == 0 {
			return 0, false
		}
		r, n := utf8.DecodeLastRuneInString(s[:j])
		if foldRune(r) != seg[k] {
			return 0, false
		}
		j -= n
	}
	return len(s) - j, true
}

// indexFold returns the offset and length in s of the first occurrence of seg, or -1.
func indexFold(s string, seg []rune) (int, int) {
	if len(seg) == 0 {
		return 0, 0
	}
	first, rest := seg[0], seg[1:]
	for i := 0; i < len(s); {
		c, n := rune(s[i]), 1
		if c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
		} else {
			c, n = foldAt(s[i:])
		}
		if c == first {
			if m, ok := prefixFold(s[i+n:], rest); ok {
				return i, n + m
			}
		}
		i += n
	}
	return -1, 0
}
