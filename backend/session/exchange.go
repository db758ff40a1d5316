package session

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/ferrysync/ferry/backend/inventory"
	"github.com/ferrysync/ferry/backend/protocol"
	"github.com/ferrysync/ferry/backend/transfer/remote"
)

// What members send each other during the flow, through the relay as blobs sealed with the
// session key. Every member derives the same names, and the transfer ids from them.
const (
	blobBase       = "inventory/base/" // + data source code: the scan, no content keys
	blobFull       = "inventory/full/" // + data source code: the scan with the content keys read
	blobSignatures = "signatures"      // the librsync signatures of possible delta targets
	blobStart      = "start"           // the plan, from the oldest member
)

// sendPart sends an inventory part, gzip-compressed, as blob name.
func sendPart(ctx context.Context, x *remote.Exchange, name string, to []string, p *inventory.Part) error {
	pr, pw := io.Pipe()
	go func() {
		zw := gzip.NewWriter(pw)
		_, err := p.WriteTo(zw)
		if err == nil {
			err = zw.Close()
		}
		pw.CloseWithError(err)
	}()
	err := x.SendBlob(ctx, name, protocol.TransferInventory, to, pr)
	pr.CloseWithError(errors.New("sending ended")) // a writer still going stops
	return err
}

// receivePart receives the inventory part of data source code sent by member from as blob name,
// reading it as it arrives.
func receivePart(ctx context.Context, x *remote.Exchange, name, from, code string) (*inventory.Part, error) {
	var part *inventory.Part
	err := receiveStream(ctx, x, name, from, func(r io.Reader) error {
		p, err := inventory.ReadPart(r)
		if err != nil {
			return err
		}
		if p.Code != code {
			return fmt.Errorf("the inventory is of data source %s, not %s", p.Code, code)
		}
		part = p
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("inventory of %s: %w", code, err)
	}
	return part, nil
}

// receiveStream receives blob name from member from and hands it to read as it arrives. What
// read leaves unread must be empty.
func receiveStream(ctx context.Context, x *remote.Exchange, name, from string, read func(io.Reader) error) error {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := read(pr)
		if err == nil {
			var extra int64
			if extra, err = io.Copy(io.Discard, pr); err == nil && extra > 0 {
				err = fmt.Errorf("%d bytes after the end", extra)
			}
		}
		pr.CloseWithError(cmpErr(err, errors.New("reading stopped")))
		done <- err
	}()
	err := x.ReceiveBlob(ctx, name, from, pw)
	pw.CloseWithError(cmpErr(err, io.EOF))
	if rerr := <-done; rerr != nil && err == nil {
		err = rerr
	}
	return err
}

// cmpErr is err, or def when err is nil.
func cmpErr(err, def error) error {
	if err != nil {
		return err
	}
	return def
}

// Signatures travel as one blob per member: a header line, then per file its data part's name,
// its item path and its signature, each as a uvarint length and the bytes, ended by an empty
// part name.
const (
	signaturesHeader = "ferry-signatures 1\n"
	maxSignature     = 256 << 20
	maxSigPath       = 64 << 10
)

// writeSignatures writes sigs (by part, then path) in a stable order.
func writeSignatures(w io.Writer, sigs remote.SignatureSet) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString(signaturesHeader)
	field := func(b []byte) {
		var n [binary.MaxVarintLen64]byte
		bw.Write(n[:binary.PutUvarint(n[:], uint64(len(b)))])
		bw.Write(b)
	}
	parts := make([]string, 0, len(sigs))
	for p := range sigs {
		parts = append(parts, p)
	}
	slices.Sort(parts)
	for _, part := range parts {
		paths := make([]string, 0, len(sigs[part]))
		for p := range sigs[part] {
			paths = append(paths, p)
		}
		slices.Sort(paths)
		for _, p := range paths {
			field([]byte(part))
			field([]byte(p))
			field(sigs[part][p])
		}
	}
	field(nil)
	return bw.Flush()
}

// readSignatures reads what writeSignatures wrote, keeping only the parts allowed (the
// sender's own).
func readSignatures(r io.Reader, allowed []string) (remote.SignatureSet, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head := make([]byte, len(signaturesHeader))
	if _, err := io.ReadFull(br, head); err != nil || string(head) != signaturesHeader {
		return nil, errors.New("signatures: not a signature list")
	}
	field := func(limit uint64) ([]byte, error) {
		n, err := binary.ReadUvarint(br)
		if err != nil {
			return nil, err
		}
		if n > limit {
			return nil, fmt.Errorf("a field of %d bytes, at most %d", n, limit)
		}
		b := make([]byte, n)
		_, err = io.ReadFull(br, b)
		return b, err
	}
	out := remote.SignatureSet{}
	for {
		part, err := field(64)
		if err != nil {
			return nil, fmt.Errorf("signatures: %w", noEOF(err))
		}
		if len(part) == 0 {
			return out, nil
		}
		if !slices.Contains(allowed, string(part)) {
			return nil, fmt.Errorf("signatures: data part %q is not the sender's", part)
		}
		path, err := field(maxSigPath)
		if err != nil {
			return nil, fmt.Errorf("signatures: %w", noEOF(err))
		}
		if !strings.HasPrefix(string(path), "/") {
			return nil, fmt.Errorf("signatures: item path %q is not rooted", path)
		}
		sig, err := field(maxSignature)
		if err != nil {
			return nil, fmt.Errorf("signatures: %w", noEOF(err))
		}
		if out[string(part)] == nil {
			out[string(part)] = map[string][]byte{}
		}
		out[string(part)][string(path)] = sig
	}
}

// noEOF turns an end of input in the middle of a list into a truncation.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
