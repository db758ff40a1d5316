package transfer

import (
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/windows"
)

// probeUnnamed makes a file in d that the system deletes when it is closed: no delete call,
// no name left behind, even where removing a file fails.
func (d *dir) probeUnnamed(name string) error {
	p := filepath.Join(d.r.Name(), "."+name+".ferry-"+strconv.FormatInt(time.Now().UnixNano(), 36)+".tmp")
	u, err := windows.UTF16PtrFromString(p)
	if err != nil {
		return fmt.Errorf("create %s: %w", d.item(name), err)
	}
	h, err := windows.CreateFile(u, windows.GENERIC_WRITE, 0, nil, windows.CREATE_NEW,
		windows.FILE_ATTRIBUTE_TEMPORARY|windows.FILE_ATTRIBUTE_HIDDEN|windows.FILE_FLAG_DELETE_ON_CLOSE, 0)
	if err != nil {
		return atItem("create", d.item(name), err)
	}
	return windows.CloseHandle(h)
}
