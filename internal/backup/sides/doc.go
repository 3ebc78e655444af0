// Package sides holds the backup tests that need the local cluster's
// control plane but not its real node (pods simulated by kwok: the
// objects, hosts and records are real, the served data is not;
// internal/backup/roundtrip proves the data on the real node): the whole
// lifecycle following the copy of an app that serves after a restore and
// switch, and a clone from a bare S3 repository. It has no code of its own.
package sides
