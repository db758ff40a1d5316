// Package bytesize writes byte counts for people, and reads and writes the sizes people configure.
package bytesize

import (
	"fmt"
	"strconv"
	"strings"
)

var binaryUnits = []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}

// scale is n in the largest binary unit that keeps it at 1 or more (B below 1024), and that unit.
func scale(n int64) (float64, string) {
	v, i := float64(n), 0
	for (v >= 1024 || v <= -1024) && i < len(binaryUnits)-1 {
		v /= 1024
		i++
	}
	return v, binaryUnits[i]
}

// Format is n in binary units with one decimal, as progress and reports show it: 512 B,
// 1.0 KiB, 3.4 GiB.
func Format(n int64) string {
	if n < 1024 && n > -1024 {
		return fmt.Sprintf("%d B", n)
	}
	v, unit := scale(n)
	return fmt.Sprintf("%.1f %s", v, unit)
}

// Size is a size people configure (a quota, a limit): Set reads a number with an optional unit,
// B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024), e.g. 8GiB; String
// writes it in binary units with at most two decimals, none when it is round: 8 GiB, 1.5 KiB.
// It is a command-line flag value (Set, String, Type).
type Size int64

var units = map[string]int64{
	"": 1, "b": 1,
	"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
}

// Set reads v (a positive size).
func (b *Size) Set(v string) error {
	s := strings.TrimSpace(v)
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i < 0 {
		i = len(s)
	}
	unit, ok := units[strings.ToLower(strings.TrimSpace(s[i:]))]
	num, err := strconv.ParseFloat(s[:i], 64)
	if !ok || err != nil || num <= 0 {
		return fmt.Errorf("%q: want a positive size such as 8GiB, 500MB or 1048576", v)
	}
	n := num * float64(unit)
	if n >= 1<<62 || n < 1 {
		return fmt.Errorf("%q: out of range", v)
	}
	*b = Size(n)
	return nil
}

func (b Size) String() string {
	n := int64(b)
	if n < 1024 && n > -1024 {
		return fmt.Sprintf("%d B", n)
	}
	v, unit := scale(n)
	num := strings.TrimRight(strconv.FormatFloat(v, 'f', 2, 64), "0")
	return strings.TrimSuffix(num, ".") + " " + unit
}

// Type names the flag's value in help texts.
func (*Size) Type() string { return "bytes" }
