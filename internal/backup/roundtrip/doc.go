// Package roundtrip holds the backup round-trip tests on the local
// cluster's real node: real PostgreSQL and MariaDB pods, exec streams,
// standby namespaces. It has no code of its own.
package roundtrip
