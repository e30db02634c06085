package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

// procMem holds the memory figures of /proc/<pid>/status, in KiB.
type procMem struct {
	RSS int64 // VmRSS: current resident set
	HWM int64 // VmHWM: peak resident set over the process lifetime
}

// readProcMem reads VmRSS and VmHWM of pid.
func readProcMem(pid int) (procMem, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procMem{}, err
	}
	return parseProcStatus(data)
}

// parseProcStatus extracts VmRSS and VmHWM ("VmRSS:   12345 kB") from the
// contents of a /proc/<pid>/status file.
func parseProcStatus(data []byte) (procMem, error) {
	var m procMem
	found := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		key, rest, ok := bytes.Cut(sc.Bytes(), []byte(":"))
		if !ok {
			continue
		}
		var dst *int64
		switch string(key) {
		case "VmRSS":
			dst = &m.RSS
		case "VmHWM":
			dst = &m.HWM
		default:
			continue
		}
		fields := bytes.Fields(rest)
		if len(fields) == 0 {
			return procMem{}, fmt.Errorf("malformed %s line", key)
		}
		v, err := strconv.ParseInt(string(fields[0]), 10, 64)
		if err != nil {
			return procMem{}, fmt.Errorf("malformed %s line: %w", key, err)
		}
		*dst = v
		found++
	}
	if found < 2 {
		return procMem{}, fmt.Errorf("VmRSS/VmHWM not found (kernel thread or exited process?)")
	}
	return m, nil
}

// memWatch samples a process's RSS while a scenario runs.
type memWatch struct {
	pid    int
	before procMem
	peak   int64
	done   chan struct{}
	wg     sync.WaitGroup
}

// memReport is what a scenario prints about the server's memory, in KiB.
type memReport struct {
	PID       int   `json:"pid"`
	RSSBefore int64 `json:"rss_before_kib"`
	RSSAfter  int64 `json:"rss_after_kib"`
	RSSPeak   int64 `json:"rss_peak_sampled_kib"`
	HWM       int64 `json:"vm_hwm_kib"`
}

// startMemWatch reads the "before" figures and samples VmRSS every 100ms
// until stop is called. It returns nil if pid is 0.
func startMemWatch(pid int) *memWatch {
	if pid == 0 {
		return nil
	}
	w := &memWatch{pid: pid, done: make(chan struct{})}
	w.before, _ = readProcMem(pid)
	w.peak = w.before.RSS
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-w.done:
				return
			case <-t.C:
				if m, err := readProcMem(pid); err == nil {
					w.peak = max(w.peak, m.RSS)
				}
			}
		}
	}()
	return w
}

// stop ends sampling and returns the report.
func (w *memWatch) stop() *memReport {
	if w == nil {
		return nil
	}
	close(w.done)
	w.wg.Wait()
	after, _ := readProcMem(w.pid)
	return &memReport{
		PID:       w.pid,
		RSSBefore: w.before.RSS,
		RSSAfter:  after.RSS,
		RSSPeak:   max(w.peak, after.RSS),
		HWM:       after.HWM,
	}
}

func (m *memReport) line() string {
	mib := func(kib int64) string { return strconv.FormatFloat(float64(kib)/1024, 'f', 1, 64) + "MiB" }
	return fmt.Sprintf("server pid=%d  rss_before=%s  rss_after=%s  rss_peak_sampled=%s  vm_hwm=%s",
		m.PID, mib(m.RSSBefore), mib(m.RSSAfter), mib(m.RSSPeak), mib(m.HWM))
}
