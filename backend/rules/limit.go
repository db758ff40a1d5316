package rules

import (
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
)

// DeleteLimit bounds the files one run may delete on any target data source. The zero value is
// the default: more than half of a data source's files, when that is at least DefaultMinDeletes
// files, is over the limit, and so is any deletion on a data source while another one of the plan
// is empty (an unmounted drive looks like an empty folder).
type DeleteLimit struct {
	Count   int     // with IsCount: at most this many files
	Percent float64 // without IsCount, once Set: at most this share of the files, 0–100
	IsCount bool
	Set     bool // false: the default
}

const (
	// DefaultDeletePercent and DefaultMinDeletes make the default limit.
	DefaultDeletePercent = 50
	DefaultMinDeletes    = 10
)

// ParseDeleteLimit reads "N" (files) or "P%" (of each target data source's files).
func ParseDeleteLimit(s string) (DeleteLimit, error) {
	s = strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(s, "%"); ok {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || v < 0 || v > 100 {
			return DeleteLimit{}, fmt.Errorf("deletion limit %q: want a number of files or a percentage from 0%% to 100%%", s)
		}
		return DeleteLimit{Percent: v, Set: true}, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return DeleteLimit{}, fmt.Errorf("deletion limit %q: want a number of files or a percentage from 0%% to 100%%", s)
	}
	return DeleteLimit{Count: n, IsCount: true, Set: true}, nil
}

func (l DeleteLimit) String() string {
	switch {
	case !l.Set:
		return fmt.Sprintf("%d%% (default)", DefaultDeletePercent)
	case l.IsCount:
		return strconv.Itoa(l.Count)
	}
	return strconv.FormatFloat(l.Percent, 'f', -1, 64) + "%"
}

// MarshalText writes the limit as ParseDeleteLimit reads it; the default is empty.
func (l DeleteLimit) MarshalText() ([]byte, error) {
	if !l.Set {
		return nil, nil
	}
	return []byte(l.String()), nil
}

// UnmarshalText reads a limit; empty is the default.
func (l *DeleteLimit) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*l = DeleteLimit{}
		return nil
	}
	v, err := ParseDeleteLimit(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// CheckVersionsDir accepts a folder for kept versions: a relative, "/"-separated path that stays
// inside the data source root.
func CheckVersionsDir(dir string) error {
	switch {
	case dir == "":
		return errors.New("empty folder")
	case strings.HasPrefix(dir, "/") || strings.Contains(dir, "\\") || (len(dir) > 1 && dir[1] == ':'):
		return fmt.Errorf("%q: want a folder relative to each data source root, such as .ferry-versions", dir)
	case path.Clean(dir) != dir || dir == "." || strings.HasPrefix(dir, ".."):
		return fmt.Errorf("%q: want a clean relative path inside the data source root", dir)
	}
	return nil
}
