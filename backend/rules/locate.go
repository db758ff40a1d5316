package rules

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
)

// Locate places an error of Parse on its line of text (1-based; 0 when it has none) and gives
// its message without the "rules file: " prefix.
func Locate(text string, err error) (line int, msg string) {
	var re *Error
	if !errors.As(err, &re) {
		return 0, err.Error()
	}
	msg = strings.TrimPrefix(re.Error(), "rules file: ")
	if n, ok := strings.CutPrefix(re.Field, "line "); ok {
		line, _ = strconv.Atoi(n)
		return line, msg
	}
	if text == "" {
		return 0, msg
	}
	var path []any
	switch {
	case re.Rule >= 0:
		path = append([]any{"rules", re.Rule}, fieldPath(re.Field)...)
	case strings.HasPrefix(re.Field, "settings"):
		path = fieldPath(re.Field)
	}
	return lineAt(text, valueOffset(text, path)), msg
}

// fieldPath splits "conditions[1].op" into "conditions", 1, "op".
func fieldPath(field string) []any {
	var path []any
	for _, part := range strings.Split(field, ".") {
		name, rest, _ := strings.Cut(part, "[")
		if name != "" {
			path = append(path, name)
		}
		for rest != "" {
			n, after, _ := strings.Cut(rest, "]")
			if i, err := strconv.Atoi(n); err == nil {
				path = append(path, i)
			}
			_, rest, _ = strings.Cut(after, "[")
		}
	}
	return path
}

// lineAt is the 1-based line of a byte offset.
func lineAt(text string, off int) int {
	return 1 + strings.Count(text[:min(max(off, 0), len(text))], "\n")
}

// valueOffset finds the byte offset of the JSON value at path (object keys and array indices)
// in text, or of the deepest value of the path that exists.
func valueOffset(text string, path []any) int {
	l := &jsonLocator{dec: json.NewDecoder(strings.NewReader(text)), text: text}
	return l.find(path)
}

type jsonLocator struct {
	dec  *json.Decoder
	text string
}

// start is where the next value begins.
func (l *jsonLocator) start() int {
	i := int(l.dec.InputOffset())
	for i < len(l.text) && strings.IndexByte(" \t\r\n,:", l.text[i]) >= 0 {
		i++
	}
	return i
}

// find reads the value at the decoder's position and descends along path.
func (l *jsonLocator) find(path []any) int {
	at := l.start()
	if len(path) == 0 {
		return at
	}
	tok, err := l.dec.Token()
	if err != nil {
		return at
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return at
	}
	switch d {
	case '{':
		key, ok := path[0].(string)
		if !ok {
			return at
		}
		for l.dec.More() {
			k, err := l.dec.Token()
			if err != nil {
				return at
			}
			if k == key {
				return l.find(path[1:])
			}
			var skip json.RawMessage
			if l.dec.Decode(&skip) != nil {
				return at
			}
		}
	case '[':
		idx, ok := path[0].(int)
		if !ok {
			return at
		}
		for i := 0; l.dec.More(); i++ {
			if i == idx {
				return l.find(path[1:])
			}
			var skip json.RawMessage
			if l.dec.Decode(&skip) != nil {
				return at
			}
		}
	}
	return at
}
