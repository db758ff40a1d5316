package cloud

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/cloud/cloudtest"
	"github.com/ferrysync/ferry/backend/cloud/store"
	"github.com/ferrysync/ferry/backend/internal/testio"
	"github.com/ferrysync/ferry/backend/protocol"
)

// The relay routes through a real server on loopback, over the memory store and Redis, with a
// real storage folder.

func withStorage(dir string) func(*Config) { return func(c *Config) { c.StorageDir = dir } }

func newTransferID(t testing.TB) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func transferRoute(session, transfer string) string {
	return "/sessions/" + session + "/transfers/" + transfer
}

func partRoute(session, transfer string, n int) string {
	return fmt.Sprintf("%s/parts/%d", transferRoute(session, transfer), n)
}

// relayURL is the full address of a PartURL.
func (e *env) relayURL(u protocol.PartURL) string {
	return e.URL + protocol.APIPrefix + "/" + u.URL
}

// relayCall sends a raw request to a relay URL and returns the status, the body of a 2xx and
// the error of any other answer.
func (e *env) relayCall(method, url string, body []byte) (int, []byte, *protocol.Error) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s relay URL: %v", method, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s relay URL: read: %v", method, err)
	}
	if resp.StatusCode >= 300 {
		var perr protocol.Error
		if err := json.Unmarshal(data, &perr); err != nil || perr.Code == "" {
			e.t.Fatalf("%s relay URL: %d with a body that is not a protocol.Error: %q", method, resp.StatusCode, data)
		}
		return resp.StatusCode, nil, &perr
	}
	return resp.StatusCode, data, nil
}

// upload stores part n through the two steps, failing the test on any refusal.
func (e *env) upload(c *cloudtest.Client, session, transfer string, n int, data []byte) {
	e.t.Helper()
	var u protocol.PartURL
	c.Must(http.MethodPost, partRoute(session, transfer, n)+"/upload", protocol.UploadRequest{Size: int64(len(data))}, &u)
	if st, _, perr := e.relayCall(http.MethodPut, e.relayURL(u), data); st != http.StatusNoContent {
		e.t.Fatalf("upload part %d: %d %v", n, st, perr)
	}
}

// download reads part n through the two steps.
func (e *env) download(c *cloudtest.Client, session, transfer string, n int) []byte {
	e.t.Helper()
	var u protocol.PartURL
	c.Must(http.MethodPost, partRoute(session, transfer, n)+"/download", nil, &u)
	st, data, perr := e.relayCall(http.MethodGet, e.relayURL(u), nil)
	if st != http.StatusOK {
		e.t.Fatalf("download part %d: %d %v", n, st, perr)
	}
	return data
}

func createTransfer(t *testing.T, c *cloudtest.Client, session string, kind protocol.TransferKind, recipients ...string) string {
	t.Helper()
	id := newTransferID(t)
	var st protocol.TransferState
	if code, perr := c.Call(http.MethodPost, "/sessions/"+session+"/transfers",
		protocol.TransferRequest{ID: id, Kind: kind, Recipients: recipients}, &st); code != http.StatusCreated {
		t.Fatalf("create transfer: %d %v", code, perr)
	}
	if st.ID != id || st.Owner != c.Instance || st.Kind != kind || !slices.Equal(st.Recipients, recipients) || len(st.Parts) != 0 {
		t.Fatalf("created %+v", st)
	}
	return id
}

func transferState(t *testing.T, c *cloudtest.Client, session, transfer string) protocol.TransferState {
	t.Helper()
	var st protocol.TransferState
	c.Must(http.MethodGet, transferRoute(session, transfer), nil, &st)
	return st
}

// partFile is where the storage keeps a part.
func partFile(dir, session, transfer string, n int) string {
	return filepath.Join(dir, session, transfer, fmt.Sprintf("%d.part", n))
}

func exists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Stat(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

// waitGone waits until path no longer exists.
func waitGone(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(cloudtest.Wait)
	for exists(t, path) {
		if time.Now().After(deadline) {
			t.Fatalf("%s still there after %v", path, cloudtest.Wait)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// noEventBefore reads p's events up to a status_updated of marker and fails if one of type typ
// came first: pushes reach each connection in order, so typ was not sent to it.
func noEventBefore(t *testing.T, p *cloudtest.Push, typ protocol.EventType, session, marker string) {
	t.Helper()
	for {
		e := p.Next()
		if e.Type == typ {
			t.Fatalf("unexpected %s push: %s", typ, e.Data)
		}
		if e.Type == protocol.EventStatusUpdated && e.Session == session && e.Member == marker {
			return
		}
	}
}

// setStatus makes c push a status_updated to the whole session, as a marker.
func setStatus(c *cloudtest.Client, session string) {
	c.Must(http.MethodPut, "/sessions/"+session+"/members/"+c.Instance+"/status",
		protocol.StatusUpdate{Status: protocol.InventoryRunningIdentification, At: time.Now()}, nil)
}

var _ = register("RelayRoundTrip", func(t *testing.T, newStore newStoreFunc) {
	dir := t.TempDir()
	e := newEnv(t, newStore, withStorage(dir))
	tm := e.twoMembers()
	a, b, id := tm.A, tm.B, tm.ID
	tr := createTransfer(t, a, id, protocol.TransferInventory, b.Instance)

	one := bytes.Repeat([]byte("sealed part one "), 4096)
	two := []byte("sealed part two")
	e.upload(a, id, tr, 1, one)
	up := cloudtest.Decode[protocol.PartUploaded](t, tm.PushB.Wait(protocol.EventPartUploaded, id))
	if up != (protocol.PartUploaded{Transfer: tr, Kind: protocol.TransferInventory, Owner: a.Instance, Part: 1, Size: int64(len(one))}) {
		t.Fatalf("part_uploaded: %+v", up)
	}
	e.upload(a, id, tr, 2, two)
	if up := cloudtest.Decode[protocol.PartUploaded](t, tm.PushB.Wait(protocol.EventPartUploaded, id)); up.Part != 2 || up.Size != int64(len(two)) {
		t.Fatalf("part_uploaded: %+v", up)
	}
	a.Must(http.MethodPost, transferRoute(id, tr)+"/complete", protocol.CompleteRequest{Parts: 2}, nil)
	done := cloudtest.Decode[protocol.TransferCompleted](t, tm.PushB.Wait(protocol.EventTransferCompleted, id))
	if done != (protocol.TransferCompleted{Transfer: tr, Kind: protocol.TransferInventory, Owner: a.Instance, Parts: 2}) {
		t.Fatalf("transfer_completed: %+v", done)
	}
	// The owner gets none of these pushes.
	setStatus(b, id)
	noEventBefore(t, tm.PushA, protocol.EventPartUploaded, id, b.Instance)

	if got := e.download(b, id, tr, 1); !bytes.Equal(got, one) {
		t.Fatalf("part 1: %d bytes back", len(got))
	}
	if got := e.download(b, id, tr, 2); !bytes.Equal(got, two) {
		t.Fatalf("part 2: %q", got)
	}
	st := transferState(t, a, id, tr)
	if !st.Complete || st.TotalParts != 2 || len(st.Parts) != 2 || st.Parts[0].Size != int64(len(one)) || st.Parts[0].Deleted {
		t.Fatalf("state before receipts: %+v", st)
	}
	b.Must(http.MethodPost, partRoute(id, tr, 1)+"/received", nil, nil)
	if exists(t, partFile(dir, id, tr, 1)) {
		t.Fatal("part 1 kept after its only recipient received it")
	}
	if !exists(t, partFile(dir, id, tr, 2)) {
		t.Fatal("part 2 deleted before it was received")
	}
	st = transferState(t, b, id, tr)
	if !st.Parts[0].Deleted || !slices.Equal(st.Parts[0].Received, []string{b.Instance}) || st.Parts[1].Deleted {
		t.Fatalf("state after a receipt: %+v", st.Parts)
	}
	if code, perr := b.Call(http.MethodPost, partRoute(id, tr, 1)+"/download", nil, nil); code != http.StatusNotFound {
		t.Fatalf("download of a deleted part: %d %v", code, perr)
	}
	// A second receipt changes nothing.
	b.Must(http.MethodPost, partRoute(id, tr, 1)+"/received", nil, nil)

	// Cancel: the owner deletes the transfer and its last part.
	a.Must(http.MethodDelete, transferRoute(id, tr), nil, nil)
	if exists(t, filepath.Join(dir, id, tr)) {
		t.Fatal("the transfer's folder outlived its deletion")
	}
	if code, _ := b.Call(http.MethodGet, transferRoute(id, tr), nil, nil); code != http.StatusNotFound {
		t.Fatalf("state of a deleted transfer: %d", code)
	}
})

// Three members: A sends to B and C; a part goes only when both have it. A's transfer to B alone
// is pushed to B, not to C.
var _ = register("RelayTwoRecipients", func(t *testing.T, newStore newStoreFunc) {
	dir := t.TempDir()
	e := newEnv(t, newStore, withStorage(dir))
	tm := e.twoMembers()
	a, b, id := tm.A, tm.B, tm.ID
	c := e.client()
	admit(t, a, tm.PushA, c, id)
	pc, _ := c.Connect(id)

	both := createTransfer(t, a, id, protocol.TransferPlan, b.Instance, c.Instance)
	onlyB := createTransfer(t, a, id, protocol.TransferContent, b.Instance)
	e.upload(a, id, both, 1, []byte("plan"))
	e.upload(a, id, onlyB, 1, []byte("content"))
	for _, p := range []*cloudtest.Push{tm.PushB, pc} {
		if up := cloudtest.Decode[protocol.PartUploaded](t, p.Wait(protocol.EventPartUploaded, id)); up.Transfer != both {
			t.Fatalf("first part_uploaded for %s", up.Transfer)
		}
	}
	if up := cloudtest.Decode[protocol.PartUploaded](t, tm.PushB.Wait(protocol.EventPartUploaded, id)); up.Transfer != onlyB {
		t.Fatalf("second part_uploaded for B: %s", up.Transfer)
	}
	setStatus(a, id)
	noEventBefore(t, pc, protocol.EventPartUploaded, id, a.Instance)

	for _, r := range []*cloudtest.Client{b, c} {
		if got := e.download(r, id, both, 1); string(got) != "plan" {
			t.Fatalf("%s read %q", r.Instance, got)
		}
	}
	b.Must(http.MethodPost, partRoute(id, both, 1)+"/received", nil, nil)
	if !exists(t, partFile(dir, id, both, 1)) {
		t.Fatal("part deleted with one of two recipients done")
	}
	c.Must(http.MethodPost, partRoute(id, both, 1)+"/received", nil, nil)
	if exists(t, partFile(dir, id, both, 1)) {
		t.Fatal("part kept after both recipients received it")
	}
	// C is no recipient of A's transfer to B.
	if code, perr := c.Call(http.MethodGet, transferRoute(id, onlyB), nil, nil); code != http.StatusForbidden {
		t.Fatalf("C reads B's transfer: %d %v", code, perr)
	}
	if code, perr := c.Call(http.MethodPost, partRoute(id, onlyB, 1)+"/download", nil, nil); code != http.StatusForbidden {
		t.Fatalf("C downloads B's part: %d %v", code, perr)
	}
})

// Every refusal gets its code and changes nothing.
var _ = register("RelayRefusals", func(t *testing.T, newStore newStoreFunc) {
	dir := t.TempDir()
	e := newEnv(t, newStore, withStorage(dir))
	tm := e.twoMembers()
	a, b, id := tm.A, tm.B, tm.ID
	c := e.client()
	admit(t, a, tm.PushA, c, id)
	outsider := e.client()
	other := outsider.CreateSession("other")
	tr := createTransfer(t, a, id, protocol.TransferInventory, b.Instance)
	e.upload(a, id, tr, 1, []byte("one"))
	before := transferState(t, a, id, tr)

	transfers := "/sessions/" + id + "/transfers"
	req := func(recipients ...string) protocol.TransferRequest {
		return protocol.TransferRequest{ID: newTransferID(t), Kind: protocol.TransferContent, Recipients: recipients}
	}
	size := protocol.UploadRequest{Size: 10}
	cases := []struct {
		name         string
		who          *cloudtest.Client
		method, path string
		body         any
		status       int
		code         string
	}{
		{"outsider creates", outsider, "POST", transfers, req(a.Instance), 404, protocol.ErrCodeNotFound},
		{"outsider reads", outsider, "GET", transferRoute(id, tr), nil, 404, protocol.ErrCodeNotFound},
		{"outsider asks to upload", outsider, "POST", partRoute(id, tr, 2) + "/upload", size, 404, protocol.ErrCodeNotFound},
		{"outsider asks to download", outsider, "POST", partRoute(id, tr, 1) + "/download", nil, 404, protocol.ErrCodeNotFound},
		{"outsider receives", outsider, "POST", partRoute(id, tr, 1) + "/received", nil, 404, protocol.ErrCodeNotFound},
		{"outsider deletes", outsider, "DELETE", transferRoute(id, tr), nil, 404, protocol.ErrCodeNotFound},
		{"transfer of another session", outsider, "GET", transferRoute(other.ID, tr), nil, 404, protocol.ErrCodeNotFound},
		{"to oneself", a, "POST", transfers, req(a.Instance), 400, protocol.ErrCodeBadRequest},
		{"to a non-member", a, "POST", transfers, req(outsider.Instance), 400, protocol.ErrCodeBadRequest},
		{"to nobody", a, "POST", transfers, req(), 400, protocol.ErrCodeBadRequest},
		{"to five", a, "POST", transfers, req(b.Instance, c.Instance, "member-3", "member-4", "member-5"), 400, protocol.ErrCodeBadRequest},
		{"twice the same", a, "POST", transfers, req(b.Instance, b.Instance), 400, protocol.ErrCodeBadRequest},
		{"bad kind", a, "POST", transfers, protocol.TransferRequest{ID: newTransferID(t), Kind: "movie", Recipients: []string{b.Instance}}, 400, protocol.ErrCodeBadRequest},
		{"bad id", a, "POST", transfers, protocol.TransferRequest{ID: "short", Kind: protocol.TransferPlan, Recipients: []string{b.Instance}}, 400, protocol.ErrCodeBadRequest},
		{"same id, other recipients", a, "POST", transfers, protocol.TransferRequest{ID: tr, Kind: protocol.TransferInventory, Recipients: []string{c.Instance}}, 409, protocol.ErrCodeConflict},
		{"same id, other owner", b, "POST", transfers, protocol.TransferRequest{ID: tr, Kind: protocol.TransferInventory, Recipients: []string{a.Instance}}, 409, protocol.ErrCodeConflict},
		{"unknown transfer", a, "GET", transferRoute(id, newTransferID(t)), nil, 404, protocol.ErrCodeNotFound},
		{"bad transfer id", a, "GET", transferRoute(id, "not-an-id"), nil, 400, protocol.ErrCodeBadRequest},
		{"part 0", a, "POST", partRoute(id, tr, 0) + "/upload", size, 400, protocol.ErrCodeBadRequest},
		{"part x", a, "POST", transferRoute(id, tr) + "/parts/x/upload", size, 400, protocol.ErrCodeBadRequest},
		{"oversize part", a, "POST", partRoute(id, tr, 2) + "/upload", protocol.UploadRequest{Size: protocol.MaxPartSize + 1}, 413, protocol.ErrCodeTooLarge},
		{"empty part", a, "POST", partRoute(id, tr, 2) + "/upload", protocol.UploadRequest{Size: 0}, 400, protocol.ErrCodeBadRequest},
		{"non-recipient member reads", c, "GET", transferRoute(id, tr), nil, 403, protocol.ErrCodeForbidden},
		{"non-recipient member downloads", c, "POST", partRoute(id, tr, 1) + "/download", nil, 403, protocol.ErrCodeForbidden},
		{"owner downloads", a, "POST", partRoute(id, tr, 1) + "/download", nil, 403, protocol.ErrCodeForbidden},
		{"owner receives", a, "POST", partRoute(id, tr, 1) + "/received", nil, 403, protocol.ErrCodeForbidden},
		{"recipient uploads", b, "POST", partRoute(id, tr, 2) + "/upload", size, 403, protocol.ErrCodeForbidden},
		{"recipient completes", b, "POST", transferRoute(id, tr) + "/complete", protocol.CompleteRequest{Parts: 1}, 403, protocol.ErrCodeForbidden},
		{"recipient deletes", b, "DELETE", transferRoute(id, tr), nil, 403, protocol.ErrCodeForbidden},
		{"download before upload", b, "POST", partRoute(id, tr, 2) + "/download", nil, 404, protocol.ErrCodeNotFound},
		{"receipt before upload", b, "POST", partRoute(id, tr, 2) + "/received", nil, 404, protocol.ErrCodeNotFound},
		{"complete with a part missing", a, "POST", transferRoute(id, tr) + "/complete", protocol.CompleteRequest{Parts: 2}, 409, protocol.ErrCodeConflict},
		{"complete with no part", a, "POST", transferRoute(id, tr) + "/complete", protocol.CompleteRequest{Parts: 0}, 400, protocol.ErrCodeBadRequest},
	}
	for _, tc := range cases {
		code, perr := tc.who.Call(tc.method, tc.path, tc.body, nil)
		if code != tc.status || perr == nil || perr.Code != tc.code || perr.Message == "" {
			t.Errorf("%s: %d %+v, want %d %s", tc.name, code, perr, tc.status, tc.code)
		}
	}
	if after := transferState(t, a, id, tr); !equalJSON(t, before, after) {
		t.Fatalf("refusals changed the transfer: %+v, before %+v", after, before)
	}
	// Nothing but the stored part and the metadata in the transfer's folder.
	assertFiles(t, filepath.Join(dir, id, tr), "1.json", "1.part", "transfer.json")

	// A received part cannot be replaced; a complete transfer takes no further part.
	b.Must(http.MethodPost, partRoute(id, tr, 1)+"/received", nil, nil)
	if code, perr := a.Call(http.MethodPost, partRoute(id, tr, 1)+"/upload", protocol.UploadRequest{Size: 3}, nil); code != 409 || perr.Code != protocol.ErrCodePartReceived {
		t.Errorf("replace a received part: %d %v", code, perr)
	}
	a.Must(http.MethodPost, transferRoute(id, tr)+"/complete", protocol.CompleteRequest{Parts: 1}, nil)
	if code, perr := a.Call(http.MethodPost, partRoute(id, tr, 2)+"/upload", size, nil); code != 409 || perr.Code != protocol.ErrCodeConflict {
		t.Errorf("part 2 of a transfer complete with 1: %d %v", code, perr)
	}
})

func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

func assertFiles(t *testing.T, dir string, want ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if !slices.Equal(got, want) {
		t.Fatalf("files in %s: %v, want %v", dir, got, want)
	}
}

// The relay URLs: bound to their method, part and member, expiring, unforgeable; uploads must
// announce their length and send exactly it.
var _ = register("RelayURLs", func(t *testing.T, newStore newStoreFunc) {
	dir := t.TempDir()
	e := newEnv(t, newStore, withStorage(dir))
	tm := e.twoMembers()
	a, b, id := tm.A, tm.B, tm.ID
	tr := createTransfer(t, a, id, protocol.TransferContent, b.Instance)
	data := bytes.Repeat([]byte{7}, 1000)
	var up protocol.PartURL
	a.Must(http.MethodPost, partRoute(id, tr, 1)+"/upload", protocol.UploadRequest{Size: int64(len(data))}, &up)
	if !strings.HasPrefix(up.URL, "relay/") || time.Until(up.Expires) < 4*time.Minute || time.Until(up.Expires) > 6*time.Minute {
		t.Fatalf("upload URL %+v", up)
	}
	token := strings.TrimPrefix(up.URL, "relay/")
	payload, sig, _ := strings.Cut(token, ".")
	claims, _ := base64.RawURLEncoding.DecodeString(payload)
	forge := func(old, new string) string {
		return "relay/" + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(claims), old, new, 1))) + "." + sig
	}
	transferDir := filepath.Join(dir, id, tr)
	refusals := []struct {
		name   string
		method string
		url    string
		body   []byte
		status int
		code   string
	}{
		{"garbage", "PUT", "relay/garbage", data, 403, protocol.ErrCodeURLInvalid},
		{"no signature", "PUT", "relay/" + payload + ".", data, 403, protocol.ErrCodeURLInvalid},
		{"another part", "PUT", forge(`"n":1`, `"n":2`), data, 403, protocol.ErrCodeURLInvalid},
		{"another member", "PUT", forge(a.Instance, b.Instance), data, 403, protocol.ErrCodeURLInvalid},
		{"longer life", "PUT", forge(`"e":`, `"e":1`), data, 403, protocol.ErrCodeURLInvalid},
		{"upload URL to download", "GET", up.URL, nil, 403, protocol.ErrCodeURLInvalid},
		{"short body", "PUT", up.URL, data[:999], 400, protocol.ErrCodeBadRequest},
		{"long body", "PUT", up.URL, append(slices.Clone(data), 0), 400, protocol.ErrCodeBadRequest},
	}
	for _, tc := range refusals {
		st, _, perr := e.relayCall(tc.method, e.URL+protocol.APIPrefix+"/"+tc.url, tc.body)
		if st != tc.status || perr.Code != tc.code {
			t.Errorf("%s: %d %+v, want %d %s", tc.name, st, perr, tc.status, tc.code)
		}
	}
	assertFiles(t, transferDir, "transfer.json")

	// Chunked, without Content-Length: refused before anything is read.
	req, _ := http.NewRequest(http.MethodPut, e.relayURL(up), io.MultiReader(bytes.NewReader(data)))
	req.ContentLength = -1
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusLengthRequired {
		t.Errorf("chunked upload: %d", resp.StatusCode)
	}

	// A body cut short: the connection closes after half the announced bytes.
	if st := truncatedPut(t, e.URL, "/api/v1/"+up.URL, data); st != http.StatusBadRequest {
		t.Errorf("truncated upload: %d", st)
	}
	assertFiles(t, transferDir, "transfer.json")
	if st := transferState(t, a, id, tr); len(st.Parts) != 0 {
		t.Fatalf("refused uploads stored parts: %+v", st.Parts)
	}

	// The URL works for its part, and again to replace it until it is received.
	for range 2 {
		if st, _, perr := e.relayCall(http.MethodPut, e.relayURL(up), data); st != http.StatusNoContent {
			t.Fatalf("upload: %d %v", st, perr)
		}
	}
	var down protocol.PartURL
	b.Must(http.MethodPost, partRoute(id, tr, 1)+"/download", nil, &down)
	if st, _, perr := e.relayCall(http.MethodPut, e.relayURL(down), data); st != 403 || perr.Code != protocol.ErrCodeURLInvalid {
		t.Errorf("download URL to upload: %d %v", st, perr)
	}
	// Expired: the clock moves past the URLs' lifetime (access tokens still live).
	e.clock.Advance(DefaultRelayURLTTL + time.Second)
	if st, _, perr := e.relayCall(http.MethodGet, e.relayURL(down), nil); st != 403 || perr.Code != protocol.ErrCodeURLExpired {
		t.Errorf("expired download URL: %d %v", st, perr)
	}
	if st, _, perr := e.relayCall(http.MethodPut, e.relayURL(up), data); st != 403 || perr.Code != protocol.ErrCodeURLExpired {
		t.Errorf("expired upload URL: %d %v", st, perr)
	}
	if got := e.download(b, id, tr, 1); !bytes.Equal(got, data) {
		t.Fatal("download with a new URL")
	}
	// A URL of a member who quit works no more.
	b.Must(http.MethodPost, partRoute(id, tr, 1)+"/download", nil, &down)
	c := e.client()
	admit(t, a, tm.PushA, c, id) // keeps the session alive after B goes
	b.Must(http.MethodPost, "/sessions/"+id+"/quit", nil, nil)
	if st, _, perr := e.relayCall(http.MethodGet, e.relayURL(down), nil); st != 404 || perr.Code != protocol.ErrCodeNotFound {
		t.Errorf("download URL of a member who quit: %d %v", st, perr)
	}
})

// truncatedPut sends a PUT announcing len(data) bytes, sends half, closes its side and returns
// the server's status.
func truncatedPut(t *testing.T, base, path string, data []byte) int {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "PUT %s HTTP/1.1\r\nHost: relay\r\nContent-Length: %d\r\n\r\n", path, len(data))
	if _, err := conn.Write(data[:len(data)/2]); err != nil {
		t.Fatal(err)
	}
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(cloudtest.Wait))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("truncated upload: no answer: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

var _ = register("RelayQuota", func(t *testing.T, newStore newStoreFunc) {
	dir := t.TempDir()
	e := newEnv(t, newStore, withStorage(dir), func(c *Config) { c.StorageQuota = 1000 })
	tm := e.twoMembers()
	a, b, id := tm.A, tm.B, tm.ID
	tr := createTransfer(t, a, id, protocol.TransferContent, b.Instance)
	e.upload(a, id, tr, 1, make([]byte, 600))
	// A URL reserves its bytes: 300 more fit, then nothing over 100.
	var u protocol.PartURL
	a.Must(http.MethodPost, partRoute(id, tr, 2)+"/upload", protocol.UploadRequest{Size: 300}, &u)
	code, perr := a.Call(http.MethodPost, partRoute(id, tr, 3)+"/upload", protocol.UploadRequest{Size: 101}, nil)
	if code != http.StatusInsufficientStorage || perr.Code != protocol.ErrCodeQuotaExceeded ||
		!strings.Contains(perr.Message, "600 B stored") || !strings.Contains(perr.Message, "300 B reserved") ||
		!strings.Contains(perr.Message, "quota of 1000 B") {
		t.Fatalf("over quota: %d %+v", code, perr)
	}
	if st, _, perr := e.relayCall(http.MethodPut, e.relayURL(u), make([]byte, 300)); st != http.StatusNoContent {
		t.Fatalf("reserved upload: %d %v", st, perr)
	}
	if st := transferState(t, a, id, tr); len(st.Parts) != 2 {
		t.Fatalf("parts: %+v", st.Parts)
	}
	assertFiles(t, filepath.Join(dir, id, tr), "1.json", "1.part", "2.json", "2.part", "transfer.json")
	// Received parts free their bytes.
	b.Must(http.MethodPost, partRoute(id, tr, 1)+"/received", nil, nil)
	e.upload(a, id, tr, 3, make([]byte, 700))
})

var _ = register("RelayResume", func(t *testing.T, newStore newStoreFunc) {
	e := newEnv(t, newStore, withStorage(t.TempDir()))
	tm := e.twoMembers()
	a, b, id := tm.A, tm.B, tm.ID
	tr := createTransfer(t, a, id, protocol.TransferSignatures, b.Instance)
	e.upload(a, id, tr, 1, []byte("one"))
	e.upload(a, id, tr, 3, []byte("three"))
	var st protocol.TransferState
	if code, perr := a.Call(http.MethodPost, "/sessions/"+id+"/transfers",
		protocol.TransferRequest{ID: tr, Kind: protocol.TransferSignatures, Recipients: []string{b.Instance}}, &st); code != http.StatusOK {
		t.Fatalf("create again: %d %v", code, perr)
	}
	if len(st.Parts) != 2 || st.Parts[0].N != 1 || st.Parts[1].N != 3 || st.Parts[1].Size != 5 || st.Complete {
		t.Fatalf("resumed state: %+v", st)
	}
	if code, perr := a.Call(http.MethodPost, "/sessions/"+id+"/transfers",
		protocol.TransferRequest{ID: tr, Kind: protocol.TransferContent, Recipients: []string{b.Instance}}, nil); code != http.StatusConflict {
		t.Fatalf("same id, another kind: %d %v", code, perr)
	}
})

// A reset and the last member's quit delete the session's parts; a recipient that quits no
// longer holds a part back.
var _ = register("RelayResetAndQuit", func(t *testing.T, newStore newStoreFunc) {
	dir := t.TempDir()
	e := newEnv(t, newStore, withStorage(dir))
	tm := e.twoMembers()
	a, b, id := tm.A, tm.B, tm.ID
	c := e.client()
	admit(t, a, tm.PushA, c, id)

	tr := createTransfer(t, a, id, protocol.TransferInventory, b.Instance, c.Instance)
	e.upload(a, id, tr, 1, []byte("inventory"))
	a.Must(http.MethodPost, "/sessions/"+id+"/reset", nil, nil)
	if exists(t, filepath.Join(dir, id)) {
		t.Fatal("the session's relay folder outlived its reset")
	}
	if code, _ := b.Call(http.MethodGet, transferRoute(id, tr), nil, nil); code != http.StatusNotFound {
		t.Fatalf("transfer after reset: %d", code)
	}

	// B received, C quits: the part goes. C's own transfer goes with it.
	tr = createTransfer(t, a, id, protocol.TransferInventory, b.Instance, c.Instance)
	e.upload(a, id, tr, 1, []byte("inventory"))
	e.upload(a, id, tr, 2, []byte("more"))
	cs := createTransfer(t, c, id, protocol.TransferInventory, a.Instance)
	e.upload(c, id, cs, 1, []byte("C's inventory"))
	b.Must(http.MethodPost, partRoute(id, tr, 1)+"/received", nil, nil)
	c.Must(http.MethodPost, "/sessions/"+id+"/quit", nil, nil)
	if exists(t, partFile(dir, id, tr, 1)) || exists(t, filepath.Join(dir, id, cs)) {
		t.Fatal("a quit recipient still holds a part back, or its transfer stayed")
	}
	if !exists(t, partFile(dir, id, tr, 2)) {
		t.Fatal("part 2 deleted before B received it")
	}
	// Everyone quits: the session's folder goes.
	b.Must(http.MethodPost, "/sessions/"+id+"/quit", nil, nil)
	if !exists(t, filepath.Join(dir, id)) {
		t.Fatal("folder gone while A is still a member")
	}
	a.Must(http.MethodPost, "/sessions/"+id+"/quit", nil, nil)
	if exists(t, filepath.Join(dir, id)) {
		t.Fatal("the session's relay folder outlived its last member")
	}
})

// A session that expires takes its parts with it: the sweep finds it gone.
var _ = register("RelayExpirySweep", func(t *testing.T, newStore newStoreFunc) {
	dir := t.TempDir()
	e := newEnv(t, newStore, withStorage(dir), shortPresence, func(c *Config) {
		c.SessionTTL = time.Second
		c.StorageSweep = 20 * time.Millisecond
	})
	tm := e.twoMembers()
	tr := createTransfer(t, tm.A, tm.ID, protocol.TransferPlan, tm.B.Instance)
	e.upload(tm.A, tm.ID, tr, 1, []byte("plan"))
	kept := e.twoMembers() // followed all along: kept, with its parts
	keptTr := createTransfer(t, kept.A, kept.ID, protocol.TransferPlan, kept.B.Instance)
	e.upload(kept.A, kept.ID, keptTr, 1, []byte("plan"))
	tm.PushA.Close()
	tm.PushB.Close()
	waitGone(t, filepath.Join(dir, tm.ID))
	if code, _ := tm.A.Call(http.MethodGet, "/sessions/"+tm.ID, nil, nil); code != http.StatusNotFound {
		t.Fatalf("parts swept while the session lives: %d", code)
	}
	if got := e.download(kept.B, kept.ID, keptTr, 1); string(got) != "plan" {
		t.Fatalf("followed session's part: %q", got)
	}
})

// Without a storage folder the relay routes say how to get one.
var _ = register("RelayUnavailable", func(t *testing.T, newStore newStoreFunc) {
	e := newEnv(t, newStore)
	tm := e.twoMembers()
	for _, r := range []struct{ method, path string }{
		{"POST", "/sessions/" + tm.ID + "/transfers"},
		{"GET", transferRoute(tm.ID, newTransferID(t))},
		{"POST", partRoute(tm.ID, newTransferID(t), 1) + "/upload"},
	} {
		code, perr := tm.A.Call(r.method, r.path, nil, nil)
		if code != http.StatusServiceUnavailable || perr.Code != protocol.ErrCodeRelayUnavailable || !strings.Contains(perr.Message, "--storage DIR") {
			t.Errorf("%s %s: %d %+v", r.method, r.path, code, perr)
		}
	}
	if st, _, perr := e.relayCall(http.MethodPut, e.URL+protocol.APIPrefix+"/relay/x.y", []byte("x")); st != 503 || perr.Code != protocol.ErrCodeRelayUnavailable {
		t.Errorf("PUT relay URL: %d %v", st, perr)
	}
})

// A server restarted on the same storage folder and the same store has the transfers, their
// parts and receipts; URLs signed before the restart still work (same secret).
func testRelayRestart(t *testing.T, st store.Store, again func() store.Store) {
	dir := t.TempDir()
	logs := &testio.Buffer{}
	log := func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	one := startRelayServer(t, st, dir, log)
	tm := one.twoMembers()
	a, b, id := tm.A, tm.B, tm.ID
	tr := createTransfer(t, a, id, protocol.TransferContent, b.Instance)
	marker := []byte("PLAINTEXT-MARKER-never-logged")
	data := append(bytes.Repeat([]byte{0xAB}, 1<<20), marker...)
	one.upload(a, id, tr, 1, data)
	one.upload(a, id, tr, 2, marker)
	b.Must(http.MethodPost, partRoute(id, tr, 2)+"/received", nil, nil)
	var down protocol.PartURL
	b.Must(http.MethodPost, partRoute(id, tr, 1)+"/download", nil, &down)
	one.stop()

	two := startRelayServer(t, again(), dir, log)
	a.URL, b.URL = two.URL, two.URL
	state := transferState(t, b, id, tr)
	if len(state.Parts) != 2 || state.Parts[0].Deleted || !state.Parts[1].Deleted || state.Parts[0].Size != int64(len(data)) {
		t.Fatalf("state after restart: %+v", state)
	}
	if st, got, perr := two.relayCall(http.MethodGet, two.relayURL(down), nil); st != http.StatusOK || !bytes.Equal(got, data) {
		t.Fatalf("download after restart with an old URL: %d %v", st, perr)
	}
	if got := two.download(b, id, tr, 1); !bytes.Equal(got, data) {
		t.Fatal("download after restart")
	}
	two.stop()
	// The log names ids and sizes, never a part's bytes or a URL's token.
	out := logs.String()
	token := strings.TrimPrefix(down.URL, "relay/")
	if strings.Contains(out, string(marker)) || strings.Contains(out, token) || !strings.Contains(out, "path=/api/v1/relay/…") ||
		!strings.Contains(out, "msg=\"part stored\"") {
		t.Fatalf("log:\n%s", out)
	}
}

func TestRelayRestart(t *testing.T) {
	t.Parallel()
	st := store.NewMemory()
	t.Cleanup(func() { st.Close() })
	testRelayRestart(t, st, func() store.Store { return st })
}

func TestRedisRelayRestart(t *testing.T) {
	t.Parallel()
	newStore := redisStores(t)
	first := newStore(t)
	t.Cleanup(func() { first.Close() })
	testRelayRestart(t, first, func() store.Store {
		s := newStore(t)
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// Two server processes sharing one Redis and one storage folder: a part uploaded through one
// is downloaded through the other, and pushed to its recipient connected to the other.
func TestRedisRelayTwoServers(t *testing.T) {
	t.Parallel()
	newStore := redisStores(t)
	dir := t.TempDir()
	one := newEnv(t, newStore, withStorage(dir))
	two := newEnv(t, newStore, withStorage(dir))
	tm := one.twoMembers()
	b2 := *tm.B
	b2.URL = two.URL
	pb2, _ := b2.Connect(tm.ID)
	tr := createTransfer(t, tm.A, tm.ID, protocol.TransferContent, tm.B.Instance)
	one.upload(tm.A, tm.ID, tr, 1, []byte("across"))
	if up := cloudtest.Decode[protocol.PartUploaded](t, pb2.Wait(protocol.EventPartUploaded, tm.ID)); up.Transfer != tr {
		t.Fatalf("part_uploaded on server two: %+v", up)
	}
	if got := two.download(&b2, tm.ID, tr, 1); string(got) != "across" {
		t.Fatalf("download through server two: %q", got)
	}
	b2.Must(http.MethodPost, partRoute(tm.ID, tr, 1)+"/received", nil, nil)
	if exists(t, partFile(dir, tm.ID, tr, 1)) {
		t.Fatal("part kept after its receipt through server two")
	}
}

// relayServer is a server that can be stopped without closing its store, to be restarted.
type relayServer struct {
	*env
	stop func()
}

func startRelayServer(t *testing.T, st store.Store, dir string, tweak ...func(*Config)) *relayServer {
	t.Helper()
	clock := &testClock{}
	cfg := Config{Store: st, Now: clock.Now, Secret: []byte("0123456789abcdef0123456789abcdef"), StorageDir: dir}
	for _, f := range tweak {
		f(&cfg)
	}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	select {
	case <-srv.ready:
	case err := <-done:
		t.Fatalf("Run: %v", err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = srv.Close()
			hs.Close()
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return &relayServer{env: &env{t: t, srv: srv, store: st, clock: clock, URL: hs.URL}, stop: stop}
}
