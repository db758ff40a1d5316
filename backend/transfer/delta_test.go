package transfer

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	librsync "github.com/balena-os/librsync-go"
	"github.com/zeebo/xxh3"

	"github.com/ferrysync/ferry/backend/inventory"
)

func keyOf(t testing.TB, b []byte) inventory.ContentKey {
	t.Helper()
	return inventory.ContentKey(xxh3.Hash128(b).Bytes())
}

func insertAt(b []byte, off int, ins []byte) []byte {
	return append(append(append([]byte{}, b[:off]...), ins...), b[off:]...)
}

func removeAt(b []byte, off, n int) []byte {
	return append(append([]byte{}, b[:off]...), b[off+n:]...)
}

// makeDeltaBytes runs Signature then MakeDelta in memory.
func makeDeltaBytes(t testing.TB, old, new []byte) []byte {
	t.Helper()
	var sig, delta bytes.Buffer
	if err := Signature(t.Context(), bytes.NewReader(old), int64(len(old)), &sig); err != nil {
		t.Fatal(err)
	}
	if err := MakeDelta(t.Context(), &sig, bytes.NewReader(new), &delta); err != nil {
		t.Fatal(err)
	}
	return delta.Bytes()
}

// The byte-shift tolerance case: a 2 MiB pseudo-random file with 4 KiB inserted or 8 KiB
// removed travels as a delta of at most 5 % and is rebuilt exactly.
func TestDeltaByteShift(t *testing.T) {
	t.Parallel()
	old := randomBytes(42, 2<<20)
	for _, tc := range []struct {
		name string
		new  []byte
	}{
		{"insert 4 KiB at 524411", insertAt(old, 524_411, randomBytes(43, 4<<10))},
		{"remove 8 KiB at 716877", removeAt(old, 716_877, 8<<10)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dst, dir := newRoot(t)
			p := writeFile(t, dir, "f", old, 0o644, time.Time{})
			delta := makeDeltaBytes(t, old, tc.new)
			pct := 100 * float64(len(delta)) / float64(len(tc.new))
			t.Logf("delta %d bytes for %d (%.2f %%)", len(delta), len(tc.new), pct)
			if pct > 5 {
				t.Errorf("delta is %.2f %% of the file, want ≤ 5 %%", pct)
			}

			// librsync-go's own Patch gives the same bytes: the format is compatible.
			var ref bytes.Buffer
			if err := librsync.Patch(bytes.NewReader(old), bytes.NewReader(delta), &ref); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(ref.Bytes(), tc.new) {
				t.Error("librsync-go Patch does not rebuild the file")
			}

			res, err := ApplyDelta(t.Context(), dst, "/f", bytes.NewReader(delta), CopyOptions{
				Size: int64(len(tc.new)), Expected: keyOf(t, tc.new),
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.Mode != Delta || res.Bytes != int64(len(delta)) {
				t.Errorf("result = %+v, want delta %d", res, len(delta))
			}
			mustEqualFile(t, p, tc.new)
			assertNoTemp(t, dir)
		})
	}
}

func TestDeltaExtremes(t *testing.T) {
	t.Parallel()
	a := randomBytes(11, 300_000)
	b := randomBytes(12, 250_000)
	for _, tc := range []struct {
		name     string
		old, new []byte
		maxDelta int
	}{
		{"identical", a, a, minBlockLen + 100}, // the last partial block goes as a literal
		{"unrelated", a, b, len(b) + 100},
		{"empty basis", nil, b, len(b) + 100},
		{"empty result", a, nil, 10},
		{"both empty", nil, nil, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dst, dir := newRoot(t)
			p := writeFile(t, dir, "f", tc.old, 0o644, time.Time{})
			delta := makeDeltaBytes(t, tc.old, tc.new)
			if len(delta) > tc.maxDelta {
				t.Errorf("delta %d bytes, want ≤ %d", len(delta), tc.maxDelta)
			}
			if _, err := ApplyDelta(t.Context(), dst, "/f", bytes.NewReader(delta), CopyOptions{Size: int64(len(tc.new))}); err != nil {
				t.Fatal(err)
			}
			mustEqualFile(t, p, tc.new)
		})
	}
}

// encodeDelta builds a delta by hand: magic, then raw command bytes.
func encodeDelta(cmds ...[]byte) []byte {
	d := binary.BigEndian.AppendUint32(nil, uint32(librsync.DELTA_MAGIC))
	for _, c := range cmds {
		d = append(d, c...)
	}
	return d
}

// A delta that cannot be applied, or whose result is not the expected one, fails; the target
// is untouched and no temp file remains.
func TestApplyDeltaFailuresLeaveTargetIntact(t *testing.T) {
	t.Parallel()
	old := randomBytes(20, 200_000)
	new := insertAt(old, 1000, []byte("inserted"))
	good := makeDeltaBytes(t, old, new)
	hello := encodeDelta([]byte{0x41, 5}, []byte("hello"), []byte{0})
	for _, tc := range []struct {
		name  string
		delta []byte
		o     CopyOptions
		want  error
	}{
		{"truncated", good[:len(good)/2], CopyOptions{Size: -1}, ErrCorruptDelta},
		{"missing end", good[:len(good)-1], CopyOptions{Size: -1}, ErrCorruptDelta},
		{"trailing data", append(append([]byte{}, good...), 'x'), CopyOptions{Size: -1}, ErrCorruptDelta},
		{"bad magic", append([]byte{0x72, 0x73, 0x01, 0x37}, good[4:]...), CopyOptions{Size: -1}, ErrCorruptDelta},
		{"empty", nil, CopyOptions{Size: -1}, ErrCorruptDelta},
		{"unknown command", encodeDelta([]byte{0x60, 0}), CopyOptions{Size: -1}, ErrCorruptDelta},
		{"literal past end", encodeDelta([]byte{0x41, 50}, []byte("short")), CopyOptions{Size: -1}, ErrCorruptDelta},
		{"copy outside basis", encodeDelta([]byte{0x4f}, binary.BigEndian.AppendUint32(nil, 199_000), binary.BigEndian.AppendUint32(nil, 2000), []byte{0}), CopyOptions{Size: -1}, ErrCorruptDelta},
		{"huge copy", encodeDelta([]byte{0x54}, binary.BigEndian.AppendUint64(nil, 1), binary.BigEndian.AppendUint64(nil, 1<<63), []byte{0}), CopyOptions{Size: -1}, ErrCorruptDelta},
		{"wrong expected key", good, CopyOptions{Size: -1, Expected: keyOf(t, old)}, ErrMismatch},
		{"wrong size", hello, CopyOptions{Size: 6}, ErrMismatch},
		{"content differs from key", hello, CopyOptions{Size: 5, Expected: keyOf(t, []byte("hellp"))}, ErrMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dst, dir := newRoot(t)
			p := writeFile(t, dir, "f", old, 0o644, time.Time{})
			_, err := ApplyDelta(t.Context(), dst, "/f", bytes.NewReader(tc.delta), tc.o)
			mustIs(t, err, tc.want)
			mustEqualFile(t, p, old)
			assertNoTemp(t, dir)
		})
	}

	// The hand-made delta is valid in itself: the failures above come from what was varied.
	dst, dir := newRoot(t)
	p := writeFile(t, dir, "f", old, 0o644, time.Time{})
	if _, err := ApplyDelta(t.Context(), dst, "/f", bytes.NewReader(hello), CopyOptions{Size: 5, Expected: keyOf(t, []byte("hello"))}); err != nil {
		t.Fatal(err)
	}
	mustEqualFile(t, p, []byte("hello"))
}

func TestApplyDeltaCancel(t *testing.T) {
	t.Parallel()
	dst, dir := newRoot(t)
	old := randomBytes(21, 4<<20)
	p := writeFile(t, dir, "f", old, 0o644, time.Time{})
	delta := makeDeltaBytes(t, old, randomBytes(22, 4<<20)) // all literal: a long apply
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	_, err := ApplyDelta(ctx, dst, "/f", bytes.NewReader(delta), CopyOptions{Size: -1, Progress: func(int64) { cancel() }})
	mustIs(t, err, context.Canceled)
	mustEqualFile(t, p, old)
	assertNoTemp(t, dir)
}

func TestApplyDeltaNeedsTarget(t *testing.T) {
	t.Parallel()
	dst, dir := newRoot(t)
	_, err := ApplyDelta(t.Context(), dst, "/none", bytes.NewReader(encodeDelta([]byte{0})), CopyOptions{Size: -1})
	mustIs(t, err, os.ErrNotExist)
	if _, err := os.Stat(filepath.Join(dir, "none")); !os.IsNotExist(err) {
		t.Errorf("target created: %v", err)
	}
}

func TestMakeDeltaRejectsBadSignatures(t *testing.T) {
	t.Parallel()
	hdr := func(magic librsync.MagicNumber, block, strong uint32) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(magic))
		b = binary.BigEndian.AppendUint32(b, block)
		return binary.BigEndian.AppendUint32(b, strong)
	}
	for name, sig := range map[string][]byte{
		"md4":          hdr(librsync.MD4_SIG_MAGIC, 2048, 16),
		"zero block":   hdr(librsync.BLAKE2_SIG_MAGIC, 0, 16),
		"huge block":   hdr(librsync.BLAKE2_SIG_MAGIC, 1<<30, 16),
		"long strong":  hdr(librsync.BLAKE2_SIG_MAGIC, 2048, 64),
		"short header": hdr(librsync.BLAKE2_SIG_MAGIC, 2048, 16)[:10],
		"cut block":    append(hdr(librsync.BLAKE2_SIG_MAGIC, 2048, 16), 1, 2, 3, 4, 5),
	} {
		t.Run(name, func(t *testing.T) {
			err := MakeDelta(t.Context(), bytes.NewReader(sig), bytes.NewReader([]byte("data")), io.Discard)
			mustIs(t, err, ErrCorruptDelta)
		})
	}
}

func TestDeltaPrimitivesHonourContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	data := randomBytes(30, 1<<20)
	mustIs(t, Signature(ctx, bytes.NewReader(data), int64(len(data)), io.Discard), context.Canceled)
	var sig bytes.Buffer
	if err := Signature(t.Context(), bytes.NewReader(data), int64(len(data)), &sig); err != nil {
		t.Fatal(err)
	}
	mustIs(t, MakeDelta(ctx, &sig, bytes.NewReader(data), io.Discard), context.Canceled)
}

func TestFileSignature(t *testing.T) {
	t.Parallel()
	r, dir := newRoot(t)
	data := randomBytes(31, 100_000)
	writeFile(t, dir, "f", data, 0o644, time.Time{})
	var a, b bytes.Buffer
	if err := FileSignature(t.Context(), r, "/f", &a); err != nil {
		t.Fatal(err)
	}
	if err := Signature(t.Context(), bytes.NewReader(data), int64(len(data)), &b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) || a.Len() == 0 {
		t.Error("FileSignature differs from Signature of the same bytes")
	}
}

func TestBlockLen(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		size int64
		want uint32
	}{
		{-1, 2048}, {0, 2048}, {100, 2048}, {4 << 20, 2048}, {16 << 20, 4096},
		{100 << 20, 10240}, {1 << 30, 32768}, {4 << 30, 65536}, {1 << 40, 65536},
	} {
		if got := blockLen(tc.size); got != tc.want {
			t.Errorf("blockLen(%d) = %d, want %d", tc.size, got, tc.want)
		}
	}
}

func TestPreferDelta(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		size           int64
		exists, remote bool
		want           bool
	}{
		{1 << 30, true, false, false},
		{1 << 30, false, true, false},
		{64<<10 - 1, true, true, false},
		{64 << 10, true, true, true},
		{1 << 30, true, true, true},
	} {
		if got := PreferDelta(tc.size, tc.exists, tc.remote); got != tc.want {
			t.Errorf("PreferDelta(%d, %v, %v) = %v", tc.size, tc.exists, tc.remote, got)
		}
	}
}

func ExamplePreferDelta() {
	fmt.Println(PreferDelta(10<<20, true, false), PreferDelta(10<<20, true, true))
	// Output: false true
}
