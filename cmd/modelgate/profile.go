package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
)

// startProfile writes a CPU profile of the whole command to the file
// named by MODELGATE_CPUPROFILE, and a heap profile at the end to
// MODELGATE_MEMPROFILE, when set: the performance work on `evaluate` and
// `drift` (bench/perf) needs profiles of the real process, start-up and
// exit included, not of a test harness around it. Unset, it costs
// nothing. The returned function stops and flushes the profiles.
func startProfile() func() {
	cpu, mem := os.Getenv("MODELGATE_CPUPROFILE"), os.Getenv("MODELGATE_MEMPROFILE")
	var stops []func()
	if cpu != "" {
		f, err := os.Create(cpu)
		if err != nil {
			fmt.Fprintf(os.Stderr, "MODELGATE_CPUPROFILE: %v\n", err)
		} else if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(os.Stderr, "MODELGATE_CPUPROFILE: %v\n", err)
			f.Close()
		} else {
			stops = append(stops, func() { pprof.StopCPUProfile(); f.Close() })
		}
	}
	if mem != "" {
		stops = append(stops, func() {
			f, err := os.Create(mem)
			if err != nil {
				fmt.Fprintf(os.Stderr, "MODELGATE_MEMPROFILE: %v\n", err)
				return
			}
			runtime.GC()
			if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
				fmt.Fprintf(os.Stderr, "MODELGATE_MEMPROFILE: %v\n", err)
			}
			f.Close()
		})
	}
	return func() {
		for _, s := range stops {
			s()
		}
	}
}
