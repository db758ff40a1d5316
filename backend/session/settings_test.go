package session

import (
	"encoding/json"
	"testing"

	"github.com/ferrysync/ferry/backend/compare"
	"github.com/ferrysync/ferry/backend/crypto"
)

// The settings every member scans with carry the folder of kept versions, checked on arrival.
func TestSettingsCarryTheVersionsFolder(t *testing.T) {
	t.Parallel()
	key, err := crypto.NewSessionKey()
	if err != nil {
		t.Fatal(err)
	}
	m := &Member{key: key}
	s := compare.DefaultSettings()
	s.ExcludeHidden = false
	for _, want := range []sessionSettings{{Compare: s}, {Compare: s, Versions: ".ferry-versions"}} {
		got, err := openSettings(m, sealSettings(m, want))
		if err != nil || got != want {
			t.Errorf("settings %+v came back as %+v, %v", want, got, err)
		}
	}
	for _, bad := range []settingsData{{Version: 2, Versions: "../outside"}, {Version: 2, Versions: "/abs"}, {Version: 3}} {
		data, _ := json.Marshal(bad)
		if got, err := openSettings(m, key.Seal(data, settingsLabel)); err == nil {
			t.Errorf("%+v read as %+v", bad, got)
		}
	}
}
