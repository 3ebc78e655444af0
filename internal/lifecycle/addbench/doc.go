// Package addbench holds the benchmarks of adding apps and compiling the
// catalog (make bench-add). They need no cluster, so they live apart from
// the lifecycle package, whose tests start a control plane (and build
// wild) before any benchmark runs: that work, and the files it creates
// and deletes, would be measured with the add.
package addbench
