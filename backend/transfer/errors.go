package transfer

import "errors"

var (
	// ErrUnsafePath reports an item path that could reach outside its data source root: a
	// relative or absolute-looking path, "." or ".." components, NUL characters, backslashes on
	// Windows, or a symbolic link on the way.
	ErrUnsafePath = errors.New("unsafe item path")
	// ErrNotRegular reports something other than a regular file where a file is expected.
	ErrNotRegular = errors.New("not a regular file")
	// ErrNotDir reports something other than a directory where a directory is expected.
	ErrNotDir = errors.New("not a directory")
	// ErrDirectoryNotEmpty reports a directory delete refused because a file lies below it.
	ErrDirectoryNotEmpty = errors.New("directory not empty")
	// ErrSourceChanged reports a source file whose size or modification time differs from what
	// the plan expected, or changed while it was being read.
	ErrSourceChanged = errors.New("source changed")
	// ErrTargetChanged reports a target that differs from what the plan saw: it was created,
	// removed or modified since the inventory.
	ErrTargetChanged = errors.New("target changed since the inventory")
	// ErrMismatch reports written content whose size or content key is not the expected one.
	ErrMismatch = errors.New("written content does not match")
	// ErrCorruptDelta reports a delta or signature stream that cannot be applied.
	ErrCorruptDelta = errors.New("corrupt delta")
)
