package app

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ferrysync/ferry/backend/cloud"
	"github.com/ferrysync/ferry/backend/cloud/store"
)

func TestSettingsRoundTrip(t *testing.T) {
	a := newTestApp(t)
	desk := newFakeDesktop()
	a.c.desk = desk
	if got := a.Settings.Get(); got != DefaultSettings() {
		t.Fatalf("new installation: %+v", got)
	}
	want := UserSettings{ServerURL: "https://ferry.example.org:7420", Theme: ThemeDark, MaxDelete: "12.5%",
		Versions: ".ferry-versions", VersionsKeep: 30}
	if err := a.Settings.Save(UserSettings{ServerURL: "  " + want.ServerURL + " ", Theme: ThemeDark, MaxDelete: " 12.50 % ",
		Versions: " .ferry-versions/ ", VersionsKeep: 30}); err != nil {
		t.Fatal(err)
	}
	if got := a.Settings.Get(); got != want {
		t.Fatalf("after Save: %+v, want %+v", got, want)
	}
	if got := desk.got(); len(got) != 1 || got[0] != "theme dark" {
		t.Fatalf("window calls %v: want the theme applied", got)
	}
	// a new App reads them back
	b, err := New(Options{ConfigDir: a.c.configDir, emitter: newRecorder(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Shutdown(context.Background())
	if got := b.Settings.Get(); got != want {
		t.Fatalf("read back: %+v, want %+v", got, want)
	}
	// no temp file is left beside the settings
	entries, _ := os.ReadDir(a.c.configDir)
	if len(entries) != 1 || entries[0].Name() != settingsFile {
		t.Fatalf("config folder holds %v", entries)
	}
}

// Several URLs of one service are kept as a list separated by commas.
func TestSettingsServerList(t *testing.T) {
	a := newTestApp(t)
	if err := a.Settings.Save(UserSettings{ServerURL: " https://a.example.org:7420 , https://b.example.org:7420/,"}); err != nil {
		t.Fatal(err)
	}
	if got, want := a.Settings.Get().ServerURL, "https://a.example.org:7420,https://b.example.org:7420/"; got != want {
		t.Fatalf("serverURL %q, want %q", got, want)
	}
}

func TestSettingsRefused(t *testing.T) {
	a := newTestApp(t)
	good := UserSettings{ServerURL: "http://127.0.0.1:7420", Theme: ThemeLight}
	if err := a.Settings.Save(good); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(a.c.configDir, settingsFile)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []UserSettings{
		{ServerURL: "ferry.example.org"},
		{ServerURL: "ftp://ferry.example.org"},
		{ServerURL: "http://"},
		{ServerURL: "http://user:pw@ferry.example.org"},
		{ServerURL: "https://ferry.example.org/?x=1"},
		{ServerURL: "https://ferry.example.org:99999"},
		{ServerURL: "http://[::1"},
		{ServerURL: "https://ferry.example.org, ferry2.example.org"},
		{Theme: "purple"},
		{MaxDelete: "lots"},
		{MaxDelete: "-1"},
		{MaxDelete: "120%"},
		{MaxDelete: "1,000"},
		{Versions: "/var/kept"},
		{Versions: "../kept"},
		{Versions: "a/../../kept"},
		{Versions: `C:\kept`},
		{Versions: "."},
		{Versions: ".ferry-versions", VersionsKeep: -1},
	} {
		err := a.Settings.Save(bad)
		if err == nil {
			t.Errorf("%+v was accepted", bad)
			continue
		}
		if !strings.Contains(err.Error(), "server address") && !strings.Contains(err.Error(), "theme") &&
			!strings.Contains(err.Error(), "deletion limit") && !strings.Contains(err.Error(), "kept versions") {
			t.Errorf("%+v: unclear error %v", bad, err)
		}
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) || a.Settings.Get() != good {
		t.Fatalf("a refused save changed the settings: %s", after)
	}
}

// TestSettingsVersionsOff: without a folder for kept versions, nothing is kept and the days to
// keep them are 0.
func TestSettingsVersionsOff(t *testing.T) {
	a := newTestApp(t)
	if err := a.Settings.Save(UserSettings{Versions: "  ", VersionsKeep: 30}); err != nil {
		t.Fatal(err)
	}
	if got := a.Settings.Get(); got != DefaultSettings() {
		t.Fatalf("%+v, want the defaults", got)
	}
}

func TestSettingsFileDamaged(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, settingsFile)
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := loadSettings(dir)
	if err == nil || s.get() != DefaultSettings() {
		t.Fatalf("damaged file: %+v, %v; want the defaults and an error", s.get(), err)
	}
	if data, _ := os.ReadFile(path); string(data) != "{not json" {
		t.Fatalf("the damaged file was changed before a save: %q", data)
	}
}

// TestRemoteServer: with a server address in the settings, the session is on that server and
// no embedded server starts.
func TestRemoteServer(t *testing.T) {
	st := store.NewMemory()
	srv, err := cloud.NewServer(cloud.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = srv.Run(ctx); close(done) }()
	var requests atomic.Int64
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		srv.Handler().ServeHTTP(w, r)
	}))
	a := newTestApp(t)
	t.Cleanup(func() {
		a.Shutdown(context.Background()) // leave before the server stops
		_ = srv.Close()
		hs.Close()
		cancel()
		<-done
	})

	if err := a.Settings.Save(UserSettings{ServerURL: hs.URL}); err != nil {
		t.Fatal(err)
	}
	src, dst := t.TempDir(), t.TempDir()
	writeFiles(t, src, map[string]string{"a.txt": "a"}, at)
	info := a.session(t, src, dst)
	if info.Embedded || info.ServerURL != hs.URL || requests.Load() == 0 {
		t.Fatalf("session %+v after %d requests: want the remote server", info, requests.Load())
	}
	if a.c.embedded != nil {
		t.Fatal("an embedded server started though the settings name a server")
	}
	// the session exists there
	if _, err := st.GetSession(ctx, info.ID); err != nil {
		t.Fatalf("the session is not on the remote server: %v", err)
	}
	if done := a.inventory(t); done.Error != "" {
		t.Fatal(done.Error)
	}
	if _, err := a.Rules.UsePreset("mirror"); err != nil {
		t.Fatal(err)
	}
	if end := a.synchronize(t); end.EndStatus != "regular" || end.Progress.FinishedActions != 2 { // a.txt and the root's date
		t.Fatalf("end %+v", end)
	}
	if got, err := os.ReadFile(filepath.Join(dst, "a.txt")); err != nil || string(got) != "a" {
		t.Fatalf("a.txt: %q, %v", got, err)
	}
}

// TestServerUnreachable: a server that does not answer makes Create fail with a clear error,
// and the app can create a session once the settings are fixed.
func TestServerUnreachable(t *testing.T) {
	hs := httptest.NewServer(http.NotFoundHandler())
	url := hs.URL
	hs.Close() // nothing listens there now
	a := newTestApp(t)
	if err := a.Settings.Save(UserSettings{ServerURL: url}); err != nil {
		t.Fatal(err)
	}
	_, err := a.Sessions.Create()
	if err == nil || !strings.Contains(err.Error(), url+" cannot be reached") || !strings.Contains(err.Error(), "built-in server") {
		t.Fatalf("Create with no server: %v", err)
	}
	for _, raw := range []string{"dial tcp", "Post ", "challenge"} {
		if strings.Contains(err.Error(), raw) {
			t.Errorf("the error %q speaks of %q", err, raw)
		}
	}
	if a.Sessions.Current() != nil {
		t.Fatal("a session is current after a failed Create")
	}
	if err := a.Settings.Save(UserSettings{}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Sessions.Create(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Sessions.Create(); err == nil {
		t.Fatal("a second Create was accepted while a session is open")
	}
}

func TestDiagnostics(t *testing.T) {
	var out bytes.Buffer
	off := newDiagnostics(func(string) string { return "" }, &out)
	off.Report("frame", "16.7")
	if off.Enabled() || out.Len() != 0 {
		t.Fatalf("disabled diagnostics wrote %q", out.String())
	}
	on := newDiagnostics(func(k string) string {
		if k == EnvDiagnostics {
			return "1"
		}
		return ""
	}, &out)
	if !on.Enabled() {
		t.Fatal("FERRY_DIAGNOSTICS=1 is not enabled")
	}
	on.Report("frame time", "p50=8.1\np95=15.9")
	on.Report("", strings.Repeat("x", 2*maxDiagnostic))
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2 || lines[0] != "ferry-diagnostics frame_time p50=8.1 p95=15.9" ||
		len(lines[1]) != len("ferry-diagnostics - ")+maxDiagnostic {
		t.Fatalf("diagnostics %q", out.String())
	}
}

func TestDialogsWithoutWindow(t *testing.T) {
	a := newTestApp(t)
	if _, err := a.Data.PickFolder(); !errors.Is(err, errNoWindow) {
		t.Fatalf("PickFolder without a window: %v", err)
	}
	if _, err := a.Data.PickFile(); !errors.Is(err, errNoWindow) {
		t.Fatalf("PickFile without a window: %v", err)
	}
}

// TestWindowShownOnceReady: the window, hidden at start, is fitted to the screen and then shown
// when its page is first ready, and not again when the page reloads (it may be in the tray).
func TestWindowShownOnceReady(t *testing.T) {
	a := newTestApp(t)
	desk := newFakeDesktop()
	a.c.desk = desk
	a.DomReady(context.Background())
	a.DomReady(context.Background())
	a.c.reveal() // the fallback, when the page never said it was ready
	if got := desk.got(); !slices.Equal(got, []string{"fit", "show"}) {
		t.Fatalf("window calls %v, want fit then show, once", got)
	}
}

// TestIncludeHidden: hidden files are left out of the inventory until the settings include
// them; then the inventory runs again and compares them.
func TestIncludeHidden(t *testing.T) {
	a := newTestApp(t)
	src, dst := t.TempDir(), t.TempDir()
	writeFiles(t, src, map[string]string{"a.txt": "a", ".hidden": "h"}, at)
	a.session(t, src, dst)
	if done := a.inventory(t); done.Error != "" {
		t.Fatal(done.Error)
	}
	if _, err := a.Rules.UsePreset("mirror"); err != nil {
		t.Fatal(err)
	}
	total := func() int {
		t.Helper()
		s, err := a.Comparison.Summary()
		if err != nil {
			t.Fatal(err)
		}
		return s.Total
	}
	without := total()
	mark := a.rec.mark()
	if err := a.Settings.Save(UserSettings{IncludeHidden: true}); err != nil {
		t.Fatal(err)
	}
	if done := waitFor[InventoryDone](t, a.rec, mark, EventInventoryDone, nil); done.Error != "" {
		t.Fatal(done.Error)
	}
	if with := total(); with != without+1 {
		t.Fatalf("%d items with hidden files, %d without: want one more", with, without)
	}
	// A preset chosen later keeps the choice.
	if _, err := a.Rules.UsePreset("update"); err != nil {
		t.Fatal(err)
	}
	if with := total(); with != without+1 {
		t.Fatalf("%d items after another preset, want %d", with, without+1)
	}
}
