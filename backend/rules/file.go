package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/inventory"
)

// File is a parsed rules file.
type File struct {
	Settings compare.Settings
	// SettingsSet tells which settings the file spelled out, by JSON name.
	SettingsSet map[string]bool
	Rules       []Rule
	Safety      Safety
}

// Safety are the settings that protect the data a run changes; the command line overrides them.
type Safety struct {
	MaxDelete DeleteLimit
	// Versions is where replaced and deleted files are kept, relative to each data source root;
	// empty keeps none.
	Versions string
	// VersionsKeep prunes kept versions older than this many days; 0 keeps them all.
	VersionsKeep int
}

// Error locates a problem in a rules file.
type Error struct {
	Rule   int    // index in "rules", -1 for the file or its settings
	Field  string // JSON path inside the rule or the file
	Reason string
}

func (e *Error) Error() string {
	if e.Rule < 0 {
		return fmt.Sprintf("rules file: %s: %s", e.Field, e.Reason)
	}
	return fmt.Sprintf("rules file: rule %d: %s: %s", e.Rule, e.Field, e.Reason)
}

// The rules file's schema (docs/rules-format.md), for reading and writing. The file is read
// level by level so that an error inside a rule names the rule and the field.
type fileJSON struct {
	Settings json.RawMessage   `json:"settings,omitempty"`
	Rules    []json.RawMessage `json:"rules"`
}

type settingsJSON struct {
	DataType      *string `json:"data_type"`
	Matching      *string `json:"matching"`
	Case          *string `json:"case"`
	Analysis      *string `json:"analysis"`
	ExcludeHidden *bool   `json:"exclude_hidden"`
	ExcludeSystem *bool   `json:"exclude_system"`

	MaxDelete    json.RawMessage `json:"max_delete"`
	Versions     *string         `json:"versions"`
	VersionsKeep *int            `json:"versions_keep"`
}

type ruleJSON struct {
	AppliesTo  string            `json:"applies_to"`
	Match      string            `json:"match"`
	Conditions []json.RawMessage `json:"conditions"`
	Actions    []json.RawMessage `json:"actions"`
}

type conditionJSON struct {
	Left     string  `json:"left,omitempty"`
	Property string  `json:"property"`
	Op       string  `json:"op"`
	Right    string  `json:"right,omitempty"`
	Value    *string `json:"value,omitempty"`
}

type actionJSON struct {
	Op   string `json:"op"`
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	On   string `json:"on,omitempty"`
}

// MaxFileSize bounds a rules file.
const MaxFileSize = 1 << 20

// Parse reads a rules file, rejecting anything malformed or unknown with an *Error. Dates without a
// zone are read in loc (time.Local when nil).
func Parse(r io.Reader, loc *time.Location) (*File, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("rules file: %w", err)
	}
	if len(data) > MaxFileSize {
		return nil, &Error{Rule: -1, Field: "file", Reason: fmt.Sprintf("larger than %d bytes", MaxFileSize)}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var fj fileJSON
	if err := dec.Decode(&fj); err != nil {
		return nil, jsonError(data, err, -1, "file", "")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &Error{Rule: -1, Field: "file", Reason: "unexpected data after the JSON object"}
	}
	if loc == nil {
		loc = time.Local
	}
	f := &File{Settings: compare.DefaultSettings(), SettingsSet: map[string]bool{}}
	if err := f.parseSettings(fj.Settings); err != nil {
		return nil, err
	}
	for i, raw := range fj.Rules {
		rule, err := parseRule(raw, loc)
		if err != nil {
			var e *Error
			if errors.As(err, &e) {
				e.Rule = i
			}
			return nil, err
		}
		f.Rules = append(f.Rules, rule)
	}
	return f, nil
}

// decodeStrict decodes one JSON value of the file, refusing unknown fields. Errors name the field
// inside the value after prefix, or self when the value itself is wrong.
func decodeStrict(raw json.RawMessage, v any, self, prefix string) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(raw, err, 0, self, prefix)
	}
	return nil
}

// jsonError locates a decoding error; syntax errors, only found at the file level, are reported
// with their line.
func jsonError(data []byte, err error, rule int, self, prefix string) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	field := func(f string) string {
		if f == "" {
			return self
		}
		return prefix + f
	}
	switch {
	case errors.As(err, &syn):
		line := 1 + bytes.Count(data[:min(int(syn.Offset), len(data))], []byte("\n"))
		return &Error{Rule: rule, Field: fmt.Sprintf("line %d", line), Reason: syn.Error()}
	case errors.As(err, &typ):
		return &Error{Rule: rule, Field: field(typ.Field), Reason: fmt.Sprintf("expected %s, found %s", typ.Type, typ.Value)}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &Error{Rule: rule, Field: field(""), Reason: "empty or truncated JSON"}
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return &Error{Rule: rule, Field: field(strings.Trim(f, `"`)), Reason: "unknown field"}
	}
	return &Error{Rule: rule, Field: field(""), Reason: msg}
}

func (f *File) parseSettings(raw json.RawMessage) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var sj settingsJSON
	if err := decodeStrict(raw, &sj, "settings", "settings."); err != nil {
		err.(*Error).Rule = -1
		return err
	}
	s := &f.Settings
	set := func(field string, raw *string, parse func(string) error) error {
		if raw == nil {
			return nil
		}
		f.SettingsSet[field] = true
		if err := parse(*raw); err != nil {
			return &Error{Rule: -1, Field: "settings." + field, Reason: err.Error()}
		}
		return nil
	}
	var err error
	if err = set("data_type", sj.DataType, func(v string) error { s.DataType, err = compare.ParseDataType(v); return err }); err != nil {
		return err
	}
	if err = set("matching", sj.Matching, func(v string) error { s.Matching, err = compare.ParseMatching(v); return err }); err != nil {
		return err
	}
	if err = set("analysis", sj.Analysis, func(v string) error { s.Analysis, err = compare.ParseAnalysis(v); return err }); err != nil {
		return err
	}
	if err = set("case", sj.Case, func(v string) error {
		switch v {
		case "sensitive":
			s.CaseSensitive = true
		case "insensitive":
			s.CaseSensitive = false
		default:
			return fmt.Errorf(`unknown value %q (one of [insensitive sensitive])`, v)
		}
		return nil
	}); err != nil {
		return err
	}
	if sj.ExcludeHidden != nil {
		f.SettingsSet["exclude_hidden"] = true
		s.ExcludeHidden = *sj.ExcludeHidden
	}
	if sj.ExcludeSystem != nil {
		f.SettingsSet["exclude_system"] = true
		s.ExcludeSystem = *sj.ExcludeSystem
	}
	return f.parseSafety(sj)
}

func (f *File) parseSafety(sj settingsJSON) error {
	bad := func(field, reason string) error { return &Error{Rule: -1, Field: "settings." + field, Reason: reason} }
	if len(sj.MaxDelete) > 0 && string(sj.MaxDelete) != "null" {
		f.SettingsSet["max_delete"] = true
		var v any
		if err := json.Unmarshal(sj.MaxDelete, &v); err != nil {
			return bad("max_delete", err.Error())
		}
		text := ""
		switch v := v.(type) {
		case string:
			text = v
		case float64:
			text = strconv.FormatFloat(v, 'f', -1, 64)
		default:
			return bad("max_delete", `expected a number of files or a percentage such as "50%"`)
		}
		l, err := ParseDeleteLimit(text)
		if err != nil {
			return bad("max_delete", err.Error())
		}
		f.Safety.MaxDelete = l
	}
	if sj.Versions != nil {
		f.SettingsSet["versions"] = true
		if err := CheckVersionsDir(*sj.Versions); err != nil {
			return bad("versions", err.Error())
		}
		f.Safety.Versions = *sj.Versions
	}
	if sj.VersionsKeep != nil {
		f.SettingsSet["versions_keep"] = true
		if *sj.VersionsKeep < 0 {
			return bad("versions_keep", "expected a number of days, 0 or more")
		}
		f.Safety.VersionsKeep = *sj.VersionsKeep
	}
	return nil
}

func parseRule(raw json.RawMessage, loc *time.Location) (Rule, error) {
	var r Rule
	var rj ruleJSON
	if err := decodeStrict(raw, &rj, "rule", ""); err != nil {
		return r, err
	}
	switch rj.AppliesTo {
	case "file":
		r.AppliesTo = inventory.File
	case "directory":
		r.AppliesTo = inventory.Dir
	case "":
		return r, &Error{Field: "applies_to", Reason: `missing ("file" or "directory")`}
	default:
		return r, &Error{Field: "applies_to", Reason: fmt.Sprintf(`unknown value %q ("file" or "directory")`, rj.AppliesTo)}
	}
	switch rj.Match {
	case "all", "":
		r.MatchAll = true
	case "any":
	default:
		return r, &Error{Field: "match", Reason: fmt.Sprintf(`unknown value %q ("all" or "any")`, rj.Match)}
	}
	for i, raw := range rj.Conditions {
		var cj conditionJSON
		if err := decodeStrict(raw, &cj, fmt.Sprintf("conditions[%d]", i), fmt.Sprintf("conditions[%d].", i)); err != nil {
			return r, err
		}
		c, err := parseCondition(cj, loc)
		if err != nil {
			return r, &Error{Field: fmt.Sprintf("conditions[%d].%s", i, err.(*Error).Field), Reason: err.(*Error).Reason}
		}
		r.Conditions = append(r.Conditions, c)
	}
	if len(rj.Actions) == 0 {
		return r, &Error{Field: "actions", Reason: "a rule needs at least one action"}
	}
	for i, raw := range rj.Actions {
		var aj actionJSON
		if err := decodeStrict(raw, &aj, fmt.Sprintf("actions[%d]", i), fmt.Sprintf("actions[%d].", i)); err != nil {
			return r, err
		}
		a, err := parseAction(aj, r.AppliesTo)
		if err != nil {
			return r, &Error{Field: fmt.Sprintf("actions[%d].%s", i, err.(*Error).Field), Reason: err.(*Error).Reason}
		}
		r.Actions = append(r.Actions, a)
	}
	return r, nil
}

var validOps = map[Property][]CondOp{
	Content:  {Eq, Ne},
	Date:     {Eq, Ne, Newer, Older},
	Size:     {Eq, Ne, Bigger, Smaller},
	Presence: {On, NotOn},
	Name:     {Eq, Ne},
}

var partName = regexp.MustCompile(`^[A-Za-z][a-z]?[0-9]*$`)

func parseCondition(cj conditionJSON, loc *time.Location) (Condition, error) {
	c := Condition{Left: cj.Left, Right: cj.Right}
	var ok bool
	if c.Property, ok = propertyNames[cj.Property]; !ok {
		return c, &Error{Field: "property", Reason: fmt.Sprintf("unknown property %q (content, date, size, presence, name)", cj.Property)}
	}
	if c.Op, ok = condOpNames[cj.Op]; !ok || !containsOp(validOps[c.Property], c.Op) {
		return c, &Error{Field: "op", Reason: fmt.Sprintf("%q is not an operator of %s (%s)", cj.Op, c.Property, opList(validOps[c.Property]))}
	}
	if c.Property == Name {
		if cj.Left != "" {
			return c, &Error{Field: "left", Reason: "a name condition takes only a value"}
		}
		if cj.Right != "" {
			return c, &Error{Field: "right", Reason: "a name condition takes only a value"}
		}
		if cj.Value == nil || *cj.Value == "" {
			return c, &Error{Field: "value", Reason: `missing name pattern, e.g. "*.tmp"`}
		}
		c.Value = *cj.Value
		c.pattern = wildcard(c.Value)
		return c, nil
	}
	if !partName.MatchString(cj.Left) {
		return c, &Error{Field: "left", Reason: fmt.Sprintf("%q is not a part name such as A or A1", cj.Left)}
	}
	hasValue := cj.Value != nil
	switch {
	case hasValue && cj.Right != "":
		return c, &Error{Field: "right", Reason: "give either right or value, not both"}
	case hasValue && (c.Property == Content || c.Property == Presence):
		return c, &Error{Field: "value", Reason: fmt.Sprintf("a %s condition compares two parts; use right", c.Property)}
	case !hasValue && !partName.MatchString(cj.Right):
		return c, &Error{Field: "right", Reason: fmt.Sprintf("%q is not a part name such as B or B1", cj.Right)}
	case !hasValue:
		return c, nil
	}
	c.Value = *cj.Value
	var err error
	switch c.Property {
	case Date:
		c.date, err = parseDate(c.Value, loc)
	case Size:
		c.size, err = ParseSize(c.Value)
	}
	if err != nil {
		return c, &Error{Field: "value", Reason: err.Error()}
	}
	return c, nil
}

func parseAction(aj actionJSON, kind inventory.Kind) (Action, error) {
	op, ok := opNames[aj.Op]
	if !ok {
		return Action{}, &Error{Field: "op", Reason: fmt.Sprintf("unknown action %q (copy, copy-content, copy-dates, create, delete, do-nothing)", aj.Op)}
	}
	a := Action{Op: op, From: aj.From, To: aj.To, On: aj.On}
	need := func(field, v string) error {
		if !partName.MatchString(v) {
			return &Error{Field: field, Reason: fmt.Sprintf("%q is not a part name", v)}
		}
		return nil
	}
	refuse := func(field, v string) error {
		if v != "" {
			return &Error{Field: field, Reason: fmt.Sprintf("%s takes no %s", op, field)}
		}
		return nil
	}
	var errs []error
	switch {
	case op.IsCopy():
		if kind != inventory.File {
			return a, &Error{Field: "op", Reason: fmt.Sprintf("%s applies to files only", op)}
		}
		errs = append(errs, need("from", a.From), need("to", a.To), refuse("on", a.On))
		if strings.EqualFold(a.From, a.To) && a.From != "" {
			errs = append(errs, &Error{Field: "to", Reason: "from and to are the same part"})
		}
	case op == Create:
		if kind != inventory.Dir {
			return a, &Error{Field: "op", Reason: "create applies to directories only"}
		}
		errs = append(errs, need("on", a.On), refuse("from", a.From), refuse("to", a.To))
	case op == Delete:
		errs = append(errs, need("on", a.On), refuse("from", a.From), refuse("to", a.To))
	case op == DoNothing:
		errs = append(errs, refuse("from", a.From), refuse("to", a.To), refuse("on", a.On))
	}
	for _, err := range errs {
		if err != nil {
			return a, err
		}
	}
	return a, nil
}

// Parts lists every part name a set of rules refers to.
func Parts(rs []Rule) []string {
	var names []string
	for _, r := range rs {
		for _, c := range r.Conditions {
			names = append(names, c.Left)
			if c.Value == "" {
				names = append(names, c.Right)
			}
		}
		for _, a := range r.Actions {
			names = append(names, a.From, a.To, a.On)
		}
	}
	out := names[:0]
	for _, n := range names {
		if n != "" {
			out = append(out, n)
		}
	}
	return out
}

// CheckParts reports the first rule that names a part outside known (matched as
// compare.Comparison.Part does: case-insensitively, "A1" for "A").
func CheckParts(rs []Rule, known []string) error {
	has := func(n string) bool {
		for _, k := range known {
			// A node name (no trailing digit) also answers to its single source's code.
			isNode := k != "" && (k[len(k)-1] < '0' || k[len(k)-1] > '9')
			if strings.EqualFold(k, n) || (isNode && strings.EqualFold(k+"1", n)) {
				return true
			}
		}
		return false
	}
	for i, r := range rs {
		for _, n := range Parts([]Rule{r}) {
			if !has(n) {
				return &Error{Rule: i, Field: "part", Reason: fmt.Sprintf("unknown part %q (parts: %s)", n, strings.Join(known, ", "))}
			}
		}
	}
	return nil
}

func containsOp(ops []CondOp, op CondOp) bool {
	for _, o := range ops {
		if o == op {
			return true
		}
	}
	return false
}

func opList(ops []CondOp) string {
	s := make([]string, len(ops))
	for i, o := range ops {
		s[i] = o.String()
	}
	return strings.Join(s, ", ")
}

func wildcard(p string) *regexp.Regexp {
	parts := strings.Split(p, "*")
	for i := range parts {
		parts[i] = regexp.QuoteMeta(parts[i])
	}
	return regexp.MustCompile("(?i)^" + strings.Join(parts, ".*") + "$")
}

var sizePattern = regexp.MustCompile(`^\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGT]?B)?\s*$`)

// ParseSize reads "10MB", "1.5 GB", "512" (bytes); units are powers of 1024, case-insensitive.
func ParseSize(s string) (int64, error) {
	m := sizePattern.FindStringSubmatch(strings.ToUpper(s))
	if m == nil {
		return 0, fmt.Errorf("%q is not a size such as 512B, 10KB or 1.5GB", s)
	}
	n, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: %w", s, err)
	}
	mult := map[string]float64{"": 1, "B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}[m[2]]
	v := n * mult
	if v > math.MaxInt64/2 {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return int64(math.Round(v)), nil
}

func parseDate(s string, loc *time.Location) (time.Time, error) {
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date such as 2024-01-31 or 2024-01-31T12:30", s)
}
