package main

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// seq returns 1ms, 2ms, ..., n ms.
func seq(n int) []time.Duration {
	s := make([]time.Duration, n)
	for i := range s {
		s[i] = ms(i + 1)
	}
	return s
}

func TestPercentileNearestRank(t *testing.T) {
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"single p50", []time.Duration{ms(7)}, 50, ms(7)},
		{"single p99", []time.Duration{ms(7)}, 99, ms(7)},
		{"100 p50", seq(100), 50, ms(50)},
		{"100 p90", seq(100), 90, ms(90)},
		{"100 p99", seq(100), 99, ms(99)},
		{"100 p100", seq(100), 100, ms(100)},
		{"10 p50", seq(10), 50, ms(5)},
		{"10 p90", seq(10), 90, ms(9)},
		{"10 p99 rounds up", seq(10), 99, ms(10)},
		{"3 p50 is median", seq(3), 50, ms(2)},
		{"4 p50 lower middle", seq(4), 50, ms(2)},
		{"1000 p99.9", seq(1000), 99.9, ms(999)},
		{"1000 p90 no float drift", seq(1000), 90, ms(900)},
		{"p0 clamps to min", seq(5), 0, ms(1)},
		{"p>100 clamps to max", seq(5), 150, ms(5)},
		{"skewed tail", []time.Duration{ms(1), ms(1), ms(1), ms(1), ms(1), ms(1), ms(1), ms(1), ms(1), ms(500)}, 90, ms(1)},
		{"skewed tail p99", []time.Duration{ms(1), ms(1), ms(1), ms(1), ms(1), ms(1), ms(1), ms(1), ms(1), ms(500)}, 99, ms(500)},
	}
	for _, tt := range tests {
		if got := percentile(tt.sorted, tt.p); got != tt.want {
			t.Errorf("%s: percentile(p=%v) = %v, want %v", tt.name, tt.p, got, tt.want)
		}
	}
}

func TestSummarizeMergesWorkers(t *testing.T) {
	a, b := newRecorder(4), newRecorder(4)
	// Worker a: 1..50ms all OK. Worker b: 51..100ms with some failures.
	for i := 1; i <= 50; i++ {
		a.add(ms(i), result{status: 200})
	}
	for i := 51; i <= 100; i++ {
		r := result{status: 200}
		switch {
		case i <= 53:
			r = result{status: 429}
		case i == 54:
			r = result{status: 500}
		case i == 55:
			r = result{err: errors.New("connection reset")}
		case i == 56:
			r = result{status: 200, badBody: true}
		}
		b.add(ms(i), r)
	}
	s := summarize([]*recorder{b, a}, 2*time.Second)
	if s.Requests != 100 {
		t.Errorf("Requests = %d, want 100", s.Requests)
	}
	if s.RPS != 50 {
		t.Errorf("RPS = %v, want 50", s.RPS)
	}
	if s.P50 != ms(50) || s.P90 != ms(90) || s.P99 != ms(99) || s.Max != ms(100) {
		t.Errorf("percentiles = %v/%v/%v/%v, want 50/90/99/100ms", s.P50, s.P90, s.P99, s.Max)
	}
	if s.Errors != 6 || s.Status[429] != 3 || s.Status[500] != 1 || s.Transport != 1 || s.BadBody != 1 {
		t.Errorf("errors = %d status=%v transport=%d badBody=%d, want 6, 429×3 500×1, 1, 1",
			s.Errors, s.Status, s.Transport, s.BadBody)
	}
	if s.FirstErr != "connection reset" {
		t.Errorf("FirstErr = %q", s.FirstErr)
	}
	bd := s.breakdown()
	for _, want := range []string{"429×3", "500×1", "unexpected-body×1", "transport×1", "connection reset"} {
		if !strings.Contains(bd, want) {
			t.Errorf("breakdown %q lacks %q", bd, want)
		}
	}
	line := s.line("signin", 2, time.Second)
	for _, want := range []string{"signin ", "c=2", "d=1s", "reqs=100", "rps=50.0", "p50=50.0ms", "p90=90.0ms", "p99=99.0ms", "max=100.0ms", "errors=6"} {
		if !strings.Contains(line, want) {
			t.Errorf("line %q lacks %q", line, want)
		}
	}
}

func TestSummarizeEmptyAndDiscard(t *testing.T) {
	r := &recorder{discard: true}
	r.add(ms(3), result{status: 500})
	s := summarize([]*recorder{r}, time.Second)
	if s.Requests != 0 || s.Errors != 0 || s.P99 != 0 || s.Max != 0 || s.breakdown() != "" {
		t.Errorf("discarding recorder leaked data: %+v", s)
	}
}

func TestWorkerLimitSumsToTotal(t *testing.T) {
	for _, tc := range []struct{ total, n int }{{10, 3}, {2_000_000, 32}, {5, 8}, {1, 1}, {7, 7}} {
		sum, lo, hi := 0, tc.total, 0
		for w := range tc.n {
			l := workerLimit(tc.total, tc.n, w)
			sum += l
			lo, hi = min(lo, l), max(hi, l)
		}
		if sum != tc.total || hi-lo > 1 {
			t.Errorf("workerLimit(%d, %d): sum=%d spread=%d, want sum=%d spread<=1", tc.total, tc.n, sum, hi-lo, tc.total)
		}
	}
}

func TestFmtDur(t *testing.T) {
	for d, want := range map[time.Duration]string{
		312 * time.Microsecond:  "312µs",
		1200 * time.Microsecond: "1.2ms",
		20 * time.Millisecond:   "20.0ms",
		2500 * time.Millisecond: "2.50s",
	} {
		if got := fmtDur(d); got != want {
			t.Errorf("fmtDur(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestParseProcStatus(t *testing.T) {
	data := []byte("Name:\tauther\nVmPeak:\t  900 kB\nVmHWM:\t   51200 kB\nVmRSS:\t   40960 kB\nThreads:\t9\n")
	m, err := parseProcStatus(data)
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS != 40960 || m.HWM != 51200 {
		t.Errorf("got %+v, want RSS=40960 HWM=51200", m)
	}
	if _, err := parseProcStatus([]byte("Name:\tkthreadd\n")); err == nil {
		t.Error("expected an error when VmRSS/VmHWM are missing")
	}
}
