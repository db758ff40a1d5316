package main

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ferrysync/ferry/backend/cloud/cloudtest"
	"github.com/ferrysync/ferry/backend/protocol"
)

func TestServerStorageQuotaFlag(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{
		"8GiB": 8 << 30, "8 GiB": 8 << 30, "500MB": 500e6, "1048576": 1 << 20, "1.5KiB": 1536, "2kb": 2000, "3b": 3,
	} {
		var b byteSize
		if err := b.Set(in); err != nil || int64(b) != want {
			t.Errorf("%q: %d %v, want %d", in, b, err, want)
		}
	}
	for _, in := range []string{"", "lots", "-1GiB", "0", "8XB", "GiB", "1e30TiB"} {
		var b byteSize
		if err := b.Set(in); err == nil {
			t.Errorf("%q accepted as %d", in, b)
		}
	}
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"server", "--storage-quota", "lots"}, nil, &bytes.Buffer{}, &stderr); code != exitUsage ||
		!strings.Contains(stderr.String(), "8GiB") {
		t.Errorf("bad quota: exit %d, %s", code, stderr.String())
	}
}

// `ferry server --storage DIR --storage-quota 1KiB` relays parts within the quota and refuses
// beyond it; without --storage it relays nothing and says why.
func TestServerStorage(t *testing.T) {
	t.Parallel()
	bin := ferryBinary(t)
	p := startServer(t, bin, nil, "--storage", filepath.Join(t.TempDir(), "relay"), "--storage-quota", "1KiB")
	a, b := cloudtest.LoggedIn(t, p.URL), cloudtest.LoggedIn(t, p.URL)
	s := a.CreateSession("s")
	pa, _ := a.Connect(s.ID)
	req, ticket := b.AskToJoin(s.ID)
	pa.Wait(protocol.EventJoinRequested, s.ID)
	a.Must(http.MethodPost, "/sessions/"+s.ID+"/join/"+ticket+"/admit", a.Admission(s.ID, req), nil)

	id := "ferry-server-transfer0"
	transfer := "/sessions/" + s.ID + "/transfers/" + id
	a.Must(http.MethodPost, "/sessions/"+s.ID+"/transfers", protocol.TransferRequest{ID: id, Kind: protocol.TransferContent, Recipients: []string{b.Instance}}, nil)
	var u protocol.PartURL
	a.Must(http.MethodPost, transfer+"/parts/1/upload", protocol.UploadRequest{Size: 1000}, &u)
	put, _ := http.NewRequest(http.MethodPut, p.URL+protocol.APIPrefix+"/"+u.URL, bytes.NewReader(make([]byte, 1000)))
	resp, err := http.DefaultClient.Do(put)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("upload: %v %v", resp, err)
	}
	resp.Body.Close()
	code, perr := a.Call(http.MethodPost, transfer+"/parts/2/upload", protocol.UploadRequest{Size: 100}, nil)
	if code != http.StatusInsufficientStorage || perr.Code != protocol.ErrCodeQuotaExceeded || !strings.Contains(perr.Message, "quota of 1 KiB") {
		t.Fatalf("over quota: %d %+v", code, perr)
	}
	p.stop(t)
	if logs := p.stderr.String(); !strings.Contains(logs, "quota=\"1 KiB\"") {
		t.Errorf("log lacks the relay storage line:\n%s", logs)
	}

	// Without --storage the relay uses a temporary folder, removed when the server stops.
	bare := startServer(t, bin, nil)
	c := cloudtest.LoggedIn(t, bare.URL)
	s = c.CreateSession("s")
	code, perr = c.Call(http.MethodPost, "/sessions/"+s.ID+"/transfers", protocol.TransferRequest{ID: id, Kind: protocol.TransferPlan, Recipients: []string{"someone-else"}}, nil)
	if code != http.StatusBadRequest || !strings.Contains(perr.Message, "not a member") {
		t.Fatalf("without --storage, a relay request: %d %+v", code, perr)
	}
	bare.stop(t)
	m := regexp.MustCompile(`msg="relay storage" dir=(\S+) temporary=true`).FindStringSubmatch(bare.stderr.String())
	if m == nil {
		t.Fatalf("log lacks the temporary relay storage line:\n%s", bare.stderr.String())
	}
	if _, err := os.Stat(m[1]); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("temporary relay storage %s left behind: %v", m[1], err)
	}
}
