package filter

import (
	"fmt"
	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/rules"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ferrysync/ferry/backend/inventory"
)

// maxFilterDepth bounds the nesting of parentheses and NOTs, so that no input exhausts the stack.
const maxFilterDepth = 200

// Parse compiles a filter for the items of a comparison whose parts are given
// (compare.Comparison.Parts). compare.Part and node names are resolved here, so a filter naming a part the
// comparison does not have is an error; parse the text again for another comparison. The error
// is a *Error.
//
// A part is named as rules name it (compare.Comparison.Part: "A", or "A1" when nodes hold several data
// sources, case-insensitive); on: and only: also take a node code ("A", "Ab"), which stands for all
// of the node's parts. A property comparison needs one part: a node code only when the node has a
// single part.
func Parse(text string, parts []*compare.Part) (*Filter, error) {
	toks, err := lexFilter(text)
	if err != nil {
		return nil, err
	}
	p := &filterParser{text: text, toks: toks, parts: parts}
	if p.peek().kind == tokEOF {
		return &Filter{}, nil
	}
	root, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, p.unexpected(t)
	}
	return &Filter{root: root, dated: p.dated}, nil
}

type tokKind uint8

const (
	tokEOF tokKind = iota
	tokWord
	tokString
	tokLParen
	tokRParen
	tokOp
	tokAnd
	tokOr
	tokNot
)

type token struct {
	kind     tokKind
	text     string // the word, the unquoted string, the operator
	pos, end int
}

// lexFilter splits the text into tokens, ending with tokEOF.
func lexFilter(s string) ([]token, error) {
	var toks []token
	add := func(k tokKind, text string, pos, end int) { toks = append(toks, token{k, text, pos, end}) }
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		two := ""
		if i+2 <= len(s) {
			two = s[i : i+2]
		}
		switch {
		case unicode.IsSpace(r):
			i += size
		case r == '(':
			add(tokLParen, "(", i, i+1)
			i++
		case r == ')':
			add(tokRParen, ")", i, i+1)
			i++
		case r == '"':
			str, end, err := lexString(s, i)
			if err != nil {
				return nil, err
			}
			add(tokString, str, i, end)
			i = end
		case two == "&&":
			add(tokAnd, two, i, i+2)
			i += 2
		case two == "||":
			add(tokOr, two, i, i+2)
			i += 2
		case two == "==" || two == "=~" || two == "!=" || two == "<=" || two == ">=" || two == "<>":
			add(tokOp, two, i, i+2)
			i += 2
		case r == '=' || r == '<' || r == '>':
			add(tokOp, s[i:i+1], i, i+1)
			i++
		case r == '!':
			add(tokNot, "!", i, i+1)
			i++
		default:
			end := max(wordEnd(s, i), i+size)
			w := s[i:end]
			switch {
			case strings.EqualFold(w, "and"):
				add(tokAnd, w, i, end)
			case strings.EqualFold(w, "or"):
				add(tokOr, w, i, end)
			case strings.EqualFold(w, "not"):
				add(tokNot, w, i, end)
			default:
				add(tokWord, w, i, end)
			}
			i = end
		}
	}
	add(tokEOF, "", len(s), len(s))
	return toks, nil
}

// wordEnd returns where the word starting at i ends: at white space, ( ) " = < > or at != && ||.
// A lone ! & | ~ belongs to the word ("wow!.txt", "Tom&Jerry", "~$report.docx").
func wordEnd(s string, i int) int {
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case unicode.IsSpace(r), strings.ContainsRune(`()"=<>`, r):
			return i
		case strings.HasPrefix(s[i:], "!="), strings.HasPrefix(s[i:], "&&"), strings.HasPrefix(s[i:], "||"):
			return i
		}
		i += size
	}
	return i
}

// lexString reads the double-quoted string at i, where \" and \\ are escapes and any other
// backslash is itself (Windows paths).
func lexString(s string, i int) (string, int, error) {
	var b strings.Builder
	for j := i + 1; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"':
			return b.String(), j + 1, nil
		case c == '\\' && j+1 < len(s) && (s[j+1] == '"' || s[j+1] == '\\'):
			b.WriteByte(s[j+1])
			j++
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, &Error{Pos: i, End: len(s), Msg: "unclosed quote"}
}

type filterParser struct {
	text  string
	toks  []token
	i     int
	parts []*compare.Part
	depth int
	dated bool
}

func (p *filterParser) peek() token { return p.toks[p.i] }

func (p *filterParser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

func (p *filterParser) errorf(pos, end int, format string, args ...any) *Error {
	return &Error{Pos: pos, End: end, Msg: fmt.Sprintf(format, args...)}
}

func startsOperand(t token) bool {
	return t.kind == tokWord || t.kind == tokString || t.kind == tokLParen || t.kind == tokNot
}

// unexpected reports a token that cannot come where it is.
func (p *filterParser) unexpected(t token) *Error {
	switch t.kind {
	case tokEOF:
		return p.errorf(t.pos, t.end, "expected an expression")
	case tokRParen:
		return p.errorf(t.pos, t.end, `unexpected ")" without a matching "("`)
	case tokOp:
		return p.errorf(t.pos, t.end, "unexpected operator %q: a comparison needs name, path, has:actions or <part>.<property> on its left", t.text)
	case tokAnd, tokOr:
		return p.errorf(t.pos, t.end, "expected an expression before %s", strings.ToUpper(t.text))
	}
	return p.errorf(t.pos, t.end, "unexpected %q", t.text)
}

// operand checks that an operand follows the operator token op.
func (p *filterParser) operand(op token) error {
	t := p.peek()
	if startsOperand(t) {
		return nil
	}
	name := strings.ToUpper(op.text)
	if t.kind == tokEOF {
		return p.errorf(op.pos, op.end, "expected an expression after %s", name)
	}
	return p.errorf(t.pos, t.end, "expected an expression after %s, found %q", name, t.text)
}

func (p *filterParser) enter(t token) error {
	p.depth++
	if p.depth > maxFilterDepth {
		return p.errorf(t.pos, t.end, "filter nested too deeply (more than %d levels)", maxFilterDepth)
	}
	return nil
}

func (p *filterParser) parseOr() (filterNode, error) {
	var kids []filterNode
	for {
		n, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		kids = append(kids, n)
		if p.peek().kind != tokOr {
			break
		}
		if err := p.operand(p.next()); err != nil {
			return nil, err
		}
	}
	if len(kids) == 1 {
		return kids[0], nil
	}
	return &orNode{kids}, nil
}

func (p *filterParser) parseAnd() (filterNode, error) {
	var kids []filterNode
	for {
		n, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		kids = append(kids, n)
		if t := p.peek(); t.kind == tokAnd {
			if err := p.operand(p.next()); err != nil {
				return nil, err
			}
		} else if !startsOperand(t) {
			break
		}
	}
	if len(kids) == 1 {
		return kids[0], nil
	}
	return &andNode{kids}, nil
}

func (p *filterParser) parseUnary() (filterNode, error) {
	t := p.peek()
	if t.kind != tokNot {
		return p.parsePrimary()
	}
	p.next()
	if err := p.enter(t); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	if err := p.operand(t); err != nil {
		return nil, err
	}
	n, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	return &notNode{n}, nil
}

func (p *filterParser) parsePrimary() (filterNode, error) {
	t := p.next()
	switch t.kind {
	case tokLParen:
		if err := p.enter(t); err != nil {
			return nil, err
		}
		defer func() { p.depth-- }()
		if c := p.peek(); c.kind == tokRParen {
			return nil, p.errorf(t.pos, c.end, "empty parentheses")
		}
		n, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		switch c := p.next(); c.kind {
		case tokRParen:
			return n, nil
		case tokEOF:
			return nil, p.errorf(t.pos, t.end, "unclosed parenthesis")
		default:
			return nil, p.unexpected(c)
		}
	case tokString:
		return textNode(t.text), nil
	case tokWord:
		return p.parseWord(t)
	}
	return nil, p.unexpected(t)
}

// textNode is free text: a substring of the item's name.
func textNode(s string) *fieldNode {
	return &fieldNode{g: newFilterGlob(s, false, false), desc: "name:" + filterQuote(s)}
}

// parseWord reads a term that starts with a word: a keyword term (on:A), a comparison (name==x,
// A.size>1mb) or free text.
func (p *filterParser) parseWord(t token) (filterNode, error) {
	if key, val, ok := strings.Cut(t.text, ":"); ok && isASCIILetters(key) {
		return p.parseKeyword(t, key, val)
	}
	if p.peek().kind == tokOp {
		return p.parseComparison(t)
	}
	return textNode(t.text), nil
}

func isASCIILetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return s != ""
}

// filterValue is the operand of a keyword or an operator, with its place in the text.
type filterValue struct {
	text     string
	pos, end int
}

// parseKeyword reads key:value; the value may follow as a separate word or quoted string
// (name:"two words", on: A).
func (p *filterParser) parseKeyword(t token, key, val string) (filterNode, error) {
	v := filterValue{val, t.pos + len(key) + 1, t.end}
	if val == "" {
		if n := p.peek(); n.kind == tokWord || n.kind == tokString {
			p.next()
			v = filterValue{n.text, n.pos, n.end}
		} else {
			return nil, p.errorf(t.pos, t.end, "expected a value after %q", key+":")
		}
	}
	switch k := strings.ToLower(key); k {
	case "on", "only":
		in, desc, err := p.partSet(v)
		if err != nil {
			return nil, err
		}
		return &presenceNode{only: k == "only", in: in, desc: k + ":" + desc}, nil
	case "is":
		switch strings.ToLower(v.text) {
		case "file":
			return &kindNode{inventory.File}, nil
		case "dir", "directory":
			return &kindNode{inventory.Dir}, nil
		}
		return nil, p.errorf(v.pos, v.end, "unknown item type %q (is:file, is:dir)", v.text)
	case "has":
		return p.parseHas(v)
	case "name":
		return &fieldNode{g: newFilterGlob(v.text, false, false), desc: "name:" + filterQuote(v.text)}, nil
	case "path":
		pat := pathPattern(v.text)
		return &fieldNode{path: true, g: newFilterGlob(pat, true, false), desc: "path:" + filterQuote(pat)}, nil
	}
	return nil, p.errorf(t.pos, t.pos+len(key)+1, "unknown keyword %q (on:, only:, is:, has:, name:, path:)", key+":")
}

// pathPattern makes a path value relative to the data source roots, with / separators.
func pathPattern(s string) string {
	return strings.TrimLeft(strings.ReplaceAll(s, `\`, "/"), "/")
}

func parseFilterOp(s string) filterOp {
	switch s {
	case "==", "=":
		return opEq
	case "!=", "<>":
		return opNe
	case "<":
		return opLt
	case "<=":
		return opLe
	case ">":
		return opGt
	case ">=":
		return opGe
	}
	return opRe
}

// operandAfter reads the value that follows an operator: a word or a quoted string.
func (p *filterParser) operandAfter(op token) (token, error) {
	v := p.next()
	if v.kind == tokWord || v.kind == tokString {
		return v, nil
	}
	if v.kind == tokEOF {
		return v, p.errorf(op.pos, op.end, "expected a value after %q", op.text)
	}
	return v, p.errorf(v.pos, v.end, "expected a value after %q, found %q", op.text, v.text)
}

// parseComparison reads name, path or <part>.<property>, an operator and a value.
func (p *filterParser) parseComparison(left token) (filterNode, error) {
	lw := strings.ToLower(left.text)
	if lw == "name" || lw == "path" {
		return p.parseFieldComparison(left, lw == "path")
	}
	partName, propName, ok := strings.Cut(left.text, ".")
	if !ok {
		return nil, p.errorf(left.pos, left.end, "%q is not a property: compare name, path or <part>.<property>", left.text)
	}
	lp, err := p.dataPart(filterValue{partName, left.pos, left.pos + len(partName)})
	if err != nil {
		return nil, err
	}
	propPos := left.pos + len(partName) + 1
	prop, ok := filterProperty(propName)
	if !ok {
		if propName == "" {
			return nil, p.errorf(left.pos, left.end, "expected a property after %q (content, content-and-date, size, last-write-time)", partName+".")
		}
		return nil, p.errorf(propPos, left.end, "unknown property %q (content, content-and-date, size, last-write-time)", propName)
	}
	opTok := p.next()
	op := parseFilterOp(opTok.text)
	switch {
	case op == opRe:
		return nil, p.errorf(opTok.pos, opTok.end, "operator =~ applies to name and path only")
	case op != opEq && op != opNe && (prop == propContent || prop == propContentAndDate):
		return nil, p.errorf(opTok.pos, opTok.end, "operator %q does not apply to %s (==, !=)", opTok.text, prop)
	}
	v, err := p.operandAfter(opTok)
	if err != nil {
		return nil, err
	}
	n := &propNode{prop: prop, op: op, left: lp, right: -1, parts: p.parts}
	lhs := p.parts[lp].Name + "." + prop.String() + " " + op.String() + " "
	if rp, rprop, ok := strings.Cut(v.text, "."); ok && v.kind == tokWord && looksLikePartName(rp) {
		if n.right, err = p.dataPart(filterValue{rp, v.pos, v.pos + len(rp)}); err != nil {
			return nil, err
		}
		if rprop != "_" {
			other, ok := filterProperty(rprop)
			if !ok {
				return nil, p.errorf(v.pos+len(rp)+1, v.end, "unknown property %q (content, content-and-date, size, last-write-time or _)", rprop)
			}
			if other != prop {
				return nil, p.errorf(v.pos+len(rp)+1, v.end, "cannot compare %s with %s", prop, other)
			}
		}
		n.desc = lhs + p.parts[n.right].Name + "." + prop.String()
		return n, nil
	}
	if _, isPart := p.lookupPart(v.text); v.kind == tokWord && (isPart || len(p.nodeParts(v.text)) > 0) {
		return nil, p.errorf(v.pos, v.end, "%q is a part: write %s._ to compare with its %s", v.text, v.text, prop)
	}
	if looksLikePartName(v.text) {
		n.desc = lhs + `"` + v.text + `"` // a quoted "b" stays a literal
	} else {
		n.desc = lhs + filterQuote(v.text)
	}
	switch prop {
	case propSize:
		if n.size, ok = parseFilterSize(v.text); !ok {
			return nil, p.errorf(v.pos, v.end, "invalid size %q (512, 100kb, 1.5MB…)", v.text)
		}
	case propDate:
		if n.date, ok = parseFilterDate(v.text); !ok {
			return nil, p.errorf(v.pos, v.end, "invalid date %q (yyyy-MM-dd, yyyy-MM-dd-HH-mm-ss or now-<n><m|h|d|w|M|y>)", v.text)
		}
		p.dated = true
	case propContent:
		if n.hex, ok = parseFilterHex(v.text); !ok {
			return nil, p.errorf(v.pos, v.end, "invalid content %q: a content key or its start, in hex", v.text)
		}
	default:
		return nil, p.errorf(v.pos, v.end, "%s compares with another part (B.%s or B._)", prop, prop)
	}
	return n, nil
}

// parseFieldComparison reads the operator and value of name… and path….
func (p *filterParser) parseFieldComparison(left token, path bool) (filterNode, error) {
	opTok := p.next()
	op := parseFilterOp(opTok.text)
	field := strings.ToLower(left.text)
	if op != opEq && op != opNe && op != opRe {
		return nil, p.errorf(opTok.pos, opTok.end, "operator %q does not apply to %s (==, !=, =~ or %s:)", opTok.text, field, field)
	}
	v, err := p.operandAfter(opTok)
	if err != nil {
		return nil, err
	}
	n := &fieldNode{path: path, neg: op == opNe}
	if op == opRe {
		// Go regexps are RE2: matching is linear in the input, so no timeout guards against
		// ReDoS. Matching ignores case unless the pattern says (?-i).
		if n.re, err = regexp.Compile("(?i)" + v.text); err != nil {
			msg := strings.TrimPrefix(err.Error(), "error parsing regexp: ")
			return nil, p.errorf(v.pos, v.end, "invalid regular expression: %s", msg)
		}
		n.desc = field + "=~" + filterQuote(v.text)
		return n, nil
	}
	pat := v.text
	if path {
		pat = pathPattern(pat)
	}
	n.g = newFilterGlob(pat, true, true)
	n.desc = field + op.String() + filterQuote(pat)
	return n, nil
}

// looksLikePartName tells a part or node name (A, Ab, A1, Ab12) from a literal such as 1.5MB.
func looksLikePartName(s string) bool {
	letters := 0
	for letters < len(s) && letters < 2 && isASCIILetters(s[letters:letters+1]) {
		letters++
	}
	if letters == 0 {
		return false
	}
	for i := letters; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// knownParts lists the part names, and the node codes when parts are named per data source.
func (p *filterParser) knownParts() string {
	var names []string
	for _, pt := range p.parts {
		if pt.Node != pt.Name && !slices.Contains(names, pt.Node) {
			names = append(names, pt.Node)
		}
		names = append(names, pt.Name)
	}
	if len(names) == 0 {
		return "the comparison has no parts"
	}
	return "known: " + strings.Join(names, ", ")
}

func (p *filterParser) lookupPart(name string) (int, bool) {
	pt, ok := (&compare.Comparison{Parts: p.parts}).Part(name)
	if !ok {
		return -1, false
	}
	return slices.Index(p.parts, pt), true
}

// nodeParts returns the indices of the parts of the node with that code.
func (p *filterParser) nodeParts(code string) []int {
	var idx []int
	for i, pt := range p.parts {
		if strings.EqualFold(pt.Node, code) {
			idx = append(idx, i)
		}
	}
	return idx
}

// dataPart resolves the part of a property comparison.
func (p *filterParser) dataPart(v filterValue) (int, error) {
	if i, ok := p.lookupPart(v.text); ok {
		return i, nil
	}
	switch idx := p.nodeParts(v.text); len(idx) {
	case 0:
		if v.text == "" {
			return 0, p.errorf(v.pos, v.end+1, "expected a part name before \".\"")
		}
		return 0, p.errorf(v.pos, v.end, "unknown part %q (%s)", v.text, p.knownParts())
	case 1:
		return idx[0], nil
	default:
		names := make([]string, len(idx))
		for i, j := range idx {
			names[i] = p.parts[j].Name
		}
		return 0, p.errorf(v.pos, v.end, "%q is a node with several parts: name one of %s", v.text, strings.Join(names, ", "))
	}
}

// partSet resolves the part or node of on: and only:.
func (p *filterParser) partSet(v filterValue) ([]bool, string, error) {
	in := make([]bool, len(p.parts))
	if i, ok := p.lookupPart(v.text); ok {
		in[i] = true
		return in, p.parts[i].Name, nil
	}
	idx := p.nodeParts(v.text)
	if len(idx) == 0 {
		return nil, "", p.errorf(v.pos, v.end, "unknown part %q (%s)", v.text, p.knownParts())
	}
	for _, i := range idx {
		in[i] = true
	}
	return in, p.parts[idx[0]].Node, nil
}

// parseHas reads has:access-issue, has:computation-error, has:sync-error and
// has:actions[.origin][.operator] [cmp count].
func (p *filterParser) parseHas(v filterValue) (filterNode, error) {
	segs := strings.Split(v.text, ".")
	head := strings.ToLower(segs[0])
	simple := map[string]filterHas{"access-issue": hasAccessIssue, "computation-error": hasComputationError, "sync-error": hasSyncError}[head]
	if simple != 0 && len(segs) == 1 {
		return &hasNode{simple}, nil
	}
	if head != "actions" {
		return nil, p.errorf(v.pos, v.end, "unknown has: value %q (access-issue, computation-error, sync-error, actions)", v.text)
	}
	n := &actionsNode{cmp: opGt}
	desc := "has:actions"
	pos := v.pos + len(segs[0]) + 1
	for _, seg := range segs[1:] {
		end := pos + len(seg)
		origin, op := anyOrigin, rules.Op(0)
		switch strings.ToLower(seg) {
		case "targeted":
			origin = targetedOnly
		case "rules":
			origin = rulesOnly
		case "copy":
			op = rules.Copy
		case "copy-content", "copy-contents":
			op = rules.CopyContent
		case "copy-dates":
			op = rules.CopyDates
		case "create":
			op = rules.Create
		case "delete":
			op = rules.Delete
		case "do-nothing":
			op = rules.DoNothing
		default:
			return nil, p.errorf(pos, end, "unknown action selector %q (targeted, rules, copy, copy-content, copy-dates, create, delete, do-nothing)", seg)
		}
		switch {
		case origin != anyOrigin && n.origin != anyOrigin:
			return nil, p.errorf(pos, end, "actions are selected by origin once (targeted or rules)")
		case op != 0 && n.op != 0:
			return nil, p.errorf(pos, end, "actions are selected by operator once")
		}
		if origin != anyOrigin {
			n.origin = origin
		} else {
			n.op = op
		}
		desc += "." + strings.ToLower(seg)
		pos = end + 1
	}
	if p.peek().kind == tokOp {
		opTok := p.next()
		if n.cmp = parseFilterOp(opTok.text); n.cmp == opRe {
			return nil, p.errorf(opTok.pos, opTok.end, "operator =~ applies to name and path only")
		}
		c, err := p.operandAfter(opTok)
		if err != nil {
			return nil, err
		}
		count, err := strconv.ParseInt(c.text, 10, 32)
		if err != nil || count < 0 || c.kind != tokWord {
			return nil, p.errorf(c.pos, c.end, "invalid action count %q", c.text)
		}
		n.n = count
	}
	n.desc = desc + " " + n.cmp.String() + " " + strconv.FormatInt(n.n, 10)
	return n, nil
}

// parseFilterSize reads 512, 100kb, 1.5MB…: units b, k(b), m(b), g(b), t(b), with an optional i
// (KiB), are powers of 1024, case-insensitive.
func parseFilterSize(s string) (int64, bool) {
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i < 0 {
		i = len(s)
	}
	num, unit := s[:i], strings.ToLower(s[i:])
	if num == "" || num == "." || strings.Count(num, ".") > 1 {
		return 0, false
	}
	shift := 0
	switch strings.TrimSuffix(strings.TrimSuffix(unit, "b"), "i") {
	case "":
		if unit == "i" || unit == "ib" {
			return 0, false
		}
	case "k":
		shift = 10
	case "m":
		shift = 20
	case "g":
		shift = 30
	case "t":
		shift = 40
	default:
		return 0, false
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, false
	}
	v = math.Round(v * float64(int64(1)<<shift))
	if v > math.MaxInt64/2 {
		return 0, false
	}
	return int64(v), true
}

// parseFilterDate reads yyyy-MM-dd, yyyy-MM-dd-HH-mm-ss, yyyy-MM-ddTHH:mm[:ss] (as rules files
// do), now, or now-<n><unit> with unit m (minutes), h, d, w, M (months) or y.
func parseFilterDate(s string) (filterDate, bool) {
	if len(s) >= 3 && strings.EqualFold(s[:3], "now") {
		rest := s[3:]
		if rest == "" {
			return filterDate{relative: true}, true
		}
		unit := rest[len(rest)-1]
		if u := unit | 0x20; u != 'm' && strings.IndexByte("hdwy", u) >= 0 {
			unit = u // only m (minutes) and M (months) differ by case
		}
		if len(rest) < 3 || rest[0] != '-' || strings.IndexByte("mhdwMy", unit) < 0 {
			return filterDate{}, false
		}
		n, ok := filterDigits(rest[1:len(rest)-1], 1, 6)
		return filterDate{relative: true, n: n, unit: unit}, ok
	}
	var f []string
	prec := byte('d')
	if date, clock, ok := strings.Cut(s, "T"); ok {
		f = append(strings.Split(date, "-"), strings.Split(clock, ":")...)
		if len(f) != 5 && len(f) != 6 {
			return filterDate{}, false
		}
		prec = 'm'
	} else {
		f = strings.Split(s, "-")
		if len(f) != 3 && len(f) != 6 {
			return filterDate{}, false
		}
	}
	if len(f) == 6 {
		prec = 's'
	}
	var v [6]int
	for i, x := range f {
		minLen, maxLen := 1, 2
		if i == 0 {
			minLen, maxLen = 4, 4
		}
		n, ok := filterDigits(x, minLen, maxLen)
		if !ok {
			return filterDate{}, false
		}
		v[i] = n
	}
	d := filterDate{y: v[0], mo: time.Month(v[1]), d: v[2], h: v[3], mi: v[4], s: v[5], prec: prec}
	t := time.Date(d.y, d.mo, d.d, d.h, d.mi, d.s, 0, time.UTC)
	if t.Year() != d.y || t.Month() != d.mo || t.Day() != d.d || t.Hour() != d.h || t.Minute() != d.mi || t.Second() != d.s {
		return filterDate{}, false // Feb 30, 25:00…
	}
	return d, true
}

// filterDigits reads an unsigned decimal of minLen to maxLen digits.
func filterDigits(s string, minLen, maxLen int) (int, bool) {
	if len(s) < minLen || len(s) > maxLen {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// parseFilterHex reads a content key or a prefix of it, in hex.
func parseFilterHex(s string) ([]byte, bool) {
	if s == "" || len(s) > 2*len(inventory.ContentKey{}) {
		return nil, false
	}
	b := []byte(strings.ToLower(s))
	for _, c := range b {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return nil, false
		}
	}
	return b, true
}
