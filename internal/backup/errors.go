package backup

import "errors"

// ErrNotFound is returned (wrapped) by a Store when a snapshot, or a file
// in it, does not exist, so that callers can tell "no such backup" from a
// repository that cannot be read.
var ErrNotFound = errors.New("backup not found")
