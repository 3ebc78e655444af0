// Command timeit runs a command and prints its wall and CPU time (user +
// system, from the kernel's accounting of the child) in milliseconds with
// two decimals: "wall_ms cpu_ms". GNU time prints both to 10 ms, coarser
// than a whole no-op `wild` process (about 20 ms), so the per-process
// sums of bench/perf.sh were off by up to half a process each.
// Benchmark use only.
//
//	timeit -o FILE -- CMD [ARG...]
//
// The command's output goes to timeit's; a command that fails makes
// timeit fail with its exit code, and FILE is not written.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"time"
)

func main() {
	out := flag.String("o", "", "file to write \"wall_ms cpu_ms\" to (default: standard error)")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: timeit [-o FILE] -- CMD [ARG...]")
		os.Exit(2)
	}
	cmd := exec.Command(flag.Arg(0), flag.Args()[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		os.Exit(exit.ExitCode())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "timeit:", err)
		os.Exit(1)
	}
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	line := fmt.Sprintf("%.2f %.2f\n", ms(wall), ms(cpu))
	if *out == "" {
		fmt.Fprint(os.Stderr, line)
		return
	}
	if err := os.WriteFile(*out, []byte(line), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "timeit:", err)
		os.Exit(1)
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
