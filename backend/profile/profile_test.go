package profile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferrysync/ferry/backend/crypto"
	"github.com/ferrysync/ferry/backend/rules"
)

func testProfile(t *testing.T, name string) *Profile {
	t.Helper()
	dir := t.TempDir()
	return &Profile{
		Name:  name,
		Nodes: []Node{{Code: "A", Sources: []string{filepath.Join(dir, "src")}}, {Code: "B", Sources: []string{filepath.Join(dir, "dst")}}},
		Mode:  rules.PresetMirror,
	}
}

func TestCheckName(t *testing.T) {
	for _, bad := range []string{"", "  ", " lead", "trail ", ".", "..", "a/b", `a\b`, "tab\there", strings.Repeat("x", MaxNameLen+1), "\xff"} {
		if err := CheckName(bad); err == nil {
			t.Errorf("CheckName(%q) accepted it", bad)
		}
	}
	for _, good := range []string{"Weekly backup", "photos→NAS", "a", strings.Repeat("é", MaxNameLen), "C:"} {
		if err := CheckName(good); err != nil {
			t.Errorf("CheckName(%q): %v", good, err)
		}
	}
}

func TestFileNamesAreSafeAndDistinct(t *testing.T) {
	seen := map[string]string{}
	for _, name := range []string{"Backup", "backup", "back up", "..x", "C:", "日本", "a*?<>|\"b", strings.Repeat("long", 16)} {
		f := FileName(name)
		if strings.ContainsAny(f, `/\:*?"<>| `) || strings.HasPrefix(f, ".") || !strings.HasSuffix(f, ".json") || len(f) > 60 {
			t.Errorf("FileName(%q) = %q: not a safe file name", name, f)
		}
		if other, ok := seen[f]; ok {
			t.Errorf("%q and %q share the file %s", name, other, f)
		}
		seen[f] = name
	}
}

func TestSaveGetListDelete(t *testing.T) {
	s := NewStore(t.TempDir())
	if es, err := s.List(); err != nil || len(es) != 0 {
		t.Fatalf("List of a new store = %v, %v; want nothing", es, err)
	}
	at := time.Date(2026, 12, 6, 5, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return at }
	p := testProfile(t, "Weekly backup")
	p.Safety = Safety{MaxDelete: "10", Versions: ".versions", VersionsKeep: 30}
	if err := s.Save(p); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get("Weekly backup")
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != Version || got.Mode != "mirror" || got.Safety != p.Safety || !got.Created.Equal(at) || got.Nodes[1].Sources[0] != p.Nodes[1].Sources[0] {
		t.Fatalf("read back %+v, want %+v", got, p)
	}
	st, err := os.Stat(s.Path("Weekly backup"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("profile file: %v, %v; want mode 0600", st, err)
	}

	if err := s.Recorded("Weekly backup", Run{At: at.Add(time.Minute), Status: StatusDone, Actions: 3}); err != nil {
		t.Fatal(err)
	}
	// Saved again later: Created stays, Updated moves, the last run stays.
	s.now = func() time.Time { return at.Add(time.Hour) }
	p2 := testProfile(t, "Weekly backup")
	if err := s.Save(p2); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Get("Weekly backup")
	if !got.Created.Equal(at) || !got.Updated.Equal(at.Add(time.Hour)) || got.LastRun == nil || got.LastRun.Actions != 3 {
		t.Fatalf("saved again: %+v", got)
	}

	if err := s.Save(testProfile(t, "another")); err != nil {
		t.Fatal(err)
	}
	es, err := s.List()
	if err != nil || len(es) != 2 || es[0].Profile.Name != "another" || es[1].Profile.Name != "Weekly backup" {
		t.Fatalf("List = %+v, %v", es, err)
	}
	if err := s.Delete("another"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("another"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after Delete: %v, want ErrNotFound", err)
	}
	if err := s.Delete("another"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Delete again: %v, want ErrNotFound", err)
	}
}

func TestSaveRefusesInvalid(t *testing.T) {
	s := NewStore(t.TempDir())
	for name, edit := range map[string]func(p *Profile){
		"one node":      func(p *Profile) { p.Nodes = p.Nodes[:1] },
		"relative path": func(p *Profile) { p.Nodes[0].Sources = []string{"src"} },
		"no rules":      func(p *Profile) { p.Mode = "" },
		"bad mode":      func(p *Profile) { p.Mode = "sideways" },
		"bad rules":     func(p *Profile) { p.Rules = &RulesFile{Text: "{"} },
		"bad limit":     func(p *Profile) { p.Safety.MaxDelete = "lots" },
		"bad name":      func(p *Profile) { p.Name = "../x" },
	} {
		p := testProfile(t, "x")
		edit(p)
		if err := s.Save(p); err == nil {
			t.Errorf("%s: saved", name)
		}
	}
	if es, _ := s.List(); len(es) != 0 {
		t.Fatalf("refused profiles were written: %+v", es)
	}
}

func TestUnreadableFilesAreNamedAndListed(t *testing.T) {
	s := NewStore(t.TempDir())
	if err := s.Save(testProfile(t, "good")); err != nil {
		t.Fatal(err)
	}
	bad := s.Path("bad")
	future := s.Path("future")
	if err := os.WriteFile(bad, []byte(`{"version": 1, "name": "bad", "nod`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(future, []byte(`{"version": 3, "name": "future", "members": []}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"bad": "is damaged", "future": "newer Ferry"} {
		_, err := s.Get(name)
		if err == nil || !strings.Contains(err.Error(), s.Path(name)) || !strings.Contains(err.Error(), want) {
			t.Errorf("Get(%q) = %v; want an error naming %s and saying %q", name, err, s.Path(name), want)
		}
	}
	es, err := s.List()
	if err != nil || len(es) != 3 {
		t.Fatalf("List = %+v, %v; want three entries", es, err)
	}
	if es[0].Profile == nil || es[0].Profile.Name != "good" || es[1].Err == nil || es[2].Err == nil {
		t.Fatalf("List = %+v; want the good one first, then the two unreadable ones", es)
	}
	// A damaged profile can be deleted, or saved over.
	if err := s.Save(testProfile(t, "bad")); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("future"); err != nil {
		t.Fatal(err)
	}
}

func TestVersionOneReadsWithoutOptionalFields(t *testing.T) {
	s := NewStore(t.TempDir())
	if err := os.MkdirAll(filepath.Dir(s.Path("min")), 0o700); err != nil {
		t.Fatal(err)
	}
	minimal := `{"version": 1, "name": "min", "mode": "update", "nodes": [{"code": "A", "sources": ["/a"]}, {"code": "B", "sources": ["/b"]}]}`
	if err := os.WriteFile(s.Path("min"), []byte(minimal), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := s.Get("min")
	if err != nil || p.Mode != "update" || p.LastRun != nil {
		t.Fatalf("Get = %+v, %v", p, err)
	}
}

func TestRulesText(t *testing.T) {
	p := testProfile(t, "x")
	p.Rules = &RulesFile{Text: `{"settings": {"exclude_hidden": false}, "rules": []}`}
	p.Safety = Safety{MaxDelete: "5", Versions: ".v"}
	text, err := p.RulesText()
	if err != nil {
		t.Fatal(err)
	}
	f, err := rules.Parse(strings.NewReader(text), nil)
	if err != nil {
		t.Fatalf("%v in\n%s", err, text)
	}
	if len(f.Rules) == 0 || f.Settings.ExcludeHidden || !f.Safety.MaxDelete.IsCount || f.Safety.MaxDelete.Count != 5 || f.Safety.Versions != ".v" {
		t.Fatalf("rules text lost a part: %+v\n%s", f, text)
	}
	p.Safety.MaxDelete = "20%"
	text, _ = p.RulesText()
	if f, err = rules.Parse(strings.NewReader(text), nil); err != nil || f.Safety.MaxDelete.IsCount {
		t.Fatalf("percent limit: %+v, %v\n%s", f, err, text)
	}
}

// sharedProfile is a profile of one node shared with another computer.
func sharedProfile(t *testing.T, name string) *Profile {
	t.Helper()
	p := testProfile(t, name)
	p.Nodes = p.Nodes[:1]
	other, err := crypto.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	secret, err := crypto.NewProfileSecret()
	if err != nil {
		t.Fatal(err)
	}
	p.Members = []Member{{Name: "laptop-b", ClientID: other.ClientID(), Key: other.Public()}}
	p.Secret = secret[:]
	p.Server = "https://ferry.example:7420"
	return p
}

func TestSharedProfileRoundTrip(t *testing.T) {
	s := NewStore(t.TempDir())
	p := sharedProfile(t, "with laptop")
	if err := s.Save(p); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(s.Path("with laptop"))
	if err != nil || !bytes.Contains(data, []byte(`"version": 2`)) {
		t.Fatalf("file %s, %v: want version 2", data, err)
	}
	got, err := s.Get("with laptop")
	if err != nil {
		t.Fatal(err)
	}
	if !got.Shared() || got.ProfileSecret() != p.ProfileSecret() || got.Server != p.Server || len(got.Members) != 1 ||
		got.Members[0].ClientID != p.Members[0].ClientID || !bytes.Equal(got.Members[0].Key, p.Members[0].Key) ||
		strings.Join(got.MemberNames(), ",") != "laptop-b" {
		t.Fatalf("read back %+v, want %+v", got, p)
	}
	if single := testProfile(t, "alone"); single.Shared() {
		t.Fatal("a profile without members is shared")
	}
}

func TestSharedProfileRefusesBadSecretAndKeys(t *testing.T) {
	s := NewStore(t.TempDir())
	stranger, err := crypto.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		edit func(p *Profile)
		want string
	}{
		"short secret":   {func(p *Profile) { p.Secret = p.Secret[:16] }, "not 32"},
		"no secret":      {func(p *Profile) { p.Secret = nil }, "not 32"},
		"secret alone":   {func(p *Profile) { p.Members = nil }, "no other member"},
		"short key":      {func(p *Profile) { p.Members[0].Key = p.Members[0].Key[:31] }, "not an Ed25519 public key"},
		"key of another": {func(p *Profile) { p.Members[0].Key = stranger.Public() }, "is not the one of its key"},
		"bad client id":  {func(p *Profile) { p.Members[0].ClientID = "AAAA-AAAA-AAAA-AAAA" }, "is not the one of its key"},
		"no member name": {func(p *Profile) { p.Members[0].Name = " " }, "has no name"},
		"member twice":   {func(p *Profile) { p.Members = append(p.Members, p.Members[0]) }, "listed twice"},
		"no node":        {func(p *Profile) { p.Nodes = nil }, "this computer's node"},
		"bad server":     {func(p *Profile) { p.Server = "ftp://x" }, "want http"},
		"too many members": {func(p *Profile) {
			for len(p.Members) < MaxMembers {
				id, _ := crypto.NewIdentity()
				p.Members = append(p.Members, Member{Name: "m", ClientID: id.ClientID(), Key: id.Public()})
			}
		}, "at most"},
	} {
		p := sharedProfile(t, "x")
		c.edit(p)
		err := s.Save(p)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Save = %v; want an error saying %q", name, err, c.want)
		}
	}
	if es, _ := s.List(); len(es) != 0 {
		t.Fatalf("refused profiles were written: %+v", es)
	}

	// A file changed by hand is refused when read, naming the file.
	p := sharedProfile(t, "edited")
	if err := s.Save(p); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(s.Path("edited"))
	data = bytes.Replace(data, []byte(p.Members[0].ClientID), []byte("AAAA-AAAA-AAAA-AAAA"), 1)
	if err := os.WriteFile(s.Path("edited"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("edited"); err == nil || !strings.Contains(err.Error(), s.Path("edited")) || !strings.Contains(err.Error(), "is not the one of its key") {
		t.Fatalf("Get of an edited file = %v", err)
	}
}

func TestRulesTextAcross(t *testing.T) {
	p := sharedProfile(t, "x")
	p.Nodes[0].Code = "B"
	p.From = "A" // the other member's node
	text, err := p.RulesTextAcross([]string{"A", "B", "C"})
	if err != nil {
		t.Fatal(err)
	}
	f, err := rules.Parse(strings.NewReader(text), nil)
	if err != nil {
		t.Fatalf("%v in\n%s", err, text)
	}
	want, _ := rules.PresetAcross(rules.PresetMirror, "A", []string{"A", "B", "C"})
	if len(f.Rules) != len(want) || len(want) == 0 {
		t.Fatalf("rules %+v, want those of a mirror from A across A, B, C %+v", f.Rules, want)
	}
	if _, err := p.RulesTextAcross([]string{"B", "C"}); err == nil {
		t.Fatal("a preset from a node the session lacks was taken")
	}
}
