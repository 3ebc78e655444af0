// Package sides holds the tests that the whole lifecycle follows the copy
// of an app that serves after a restore and switch, on the local
// cluster's control plane (pods simulated by kwok: the objects, hosts and
// records are real, the served data is not; internal/backup/roundtrip
// proves the data on the real node). It has no code of its own.
package sides
