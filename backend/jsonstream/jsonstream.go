// Package jsonstream writes a large JSON object member by member, and its arrays element by
// element, indented as json.Encoder with SetIndent writes it: a document the size of a million-file
// plan goes out without being held whole in memory.
package jsonstream

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// Object is an open JSON object. While a member opened with Object or Array is open, only that
// member may be written to.
type Object struct {
	*stream
	prefix string // of the object's closing line
	n      int    // members written
	top    bool
}

// Array is an open JSON array.
type Array struct {
	*stream
	prefix string
	n      int
}

type stream struct {
	w      *bufio.Writer
	indent string
	err    error
}

func (s *stream) write(parts ...string) {
	for _, p := range parts {
		if s.err != nil {
			return
		}
		_, s.err = s.w.WriteString(p)
	}
}

// line starts a line with prefix; compact documents have no lines.
func (s *stream) line(prefix string) {
	if s.indent != "" {
		s.write("\n", prefix)
	}
}

// value writes v marshalled, its lines after the first starting with prefix.
func (s *stream) value(v any, prefix string) {
	if b := s.marshal(v, prefix); s.err == nil {
		_, s.err = s.w.Write(b)
	}
}

func (s *stream) marshal(v any, prefix string) []byte {
	if s.err != nil {
		return nil
	}
	var b []byte
	var err error
	if s.indent == "" {
		b, err = json.Marshal(v)
	} else {
		b, err = json.MarshalIndent(v, prefix, s.indent)
	}
	if err != nil {
		s.err = err
		return nil
	}
	return b
}

// New opens the top object of a document on w, indented by indent (compact when empty); its
// Close ends the document with a newline, as json.Encoder does, and flushes w.
func New(w io.Writer, indent string) *Object {
	s := &stream{w: bufio.NewWriterSize(w, 64<<10), indent: indent}
	s.write("{")
	return &Object{stream: s, top: true}
}

func (o *Object) key(name string) {
	if o.n > 0 {
		o.write(",")
	}
	o.n++
	o.line(o.prefix + o.indent)
	o.value(name, "")
	o.write(":")
	if o.indent != "" {
		o.write(" ")
	}
}

// Member writes one member.
func (o *Object) Member(name string, v any) {
	o.key(name)
	o.value(v, o.prefix+o.indent)
}

// Members writes the members v marshals to, in their order: v must marshal to an object.
func (o *Object) Members(v any) {
	b := o.marshal(v, o.prefix)
	if o.err != nil {
		return
	}
	body, ok := bytes.CutPrefix(b, []byte("{"))
	if ok {
		body, ok = bytes.CutSuffix(body, []byte("}"))
	}
	if !ok {
		o.err = fmt.Errorf("jsonstream: %T is not an object", v)
		return
	}
	body = bytes.TrimSuffix(body, []byte("\n"+o.prefix))
	if len(body) == 0 {
		return
	}
	if o.n > 0 {
		o.write(",")
	}
	o.n++
	if o.err == nil {
		_, o.err = o.w.Write(body)
	}
}

// Object opens a member object.
func (o *Object) Object(name string) *Object {
	o.key(name)
	o.write("{")
	return &Object{stream: o.stream, prefix: o.prefix + o.indent}
}

// Array opens a member array.
func (o *Object) Array(name string) *Array {
	o.key(name)
	o.write("[")
	return &Array{stream: o.stream, prefix: o.prefix + o.indent}
}

// Close ends the object. For the top object it also flushes the document and returns the first
// error met writing it.
func (o *Object) Close() error {
	if o.n > 0 {
		o.line(o.prefix)
	}
	o.write("}")
	if !o.top {
		return o.err
	}
	o.write("\n")
	if o.err == nil {
		o.err = o.w.Flush()
	}
	return o.err
}

// Add writes one element.
func (a *Array) Add(v any) {
	if a.n > 0 {
		a.write(",")
	}
	a.n++
	elemPrefix := a.prefix + a.indent
	a.line(elemPrefix)
	a.value(v, elemPrefix)
}

// Close ends the array.
func (a *Array) Close() {
	if a.n > 0 {
		a.line(a.prefix)
	}
	a.write("]")
}
