package main

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// result is the outcome of one request.
type result struct {
	status  int    // HTTP status; 0 on transport error
	want    int    // expected status; 0 means 200
	err     error  // transport or body-read error
	badBody bool   // status was as expected but the body (or Location) was not
	detail  string // why status or body was unexpected; the first is reported

	// Set by workers whose iteration makes more than one request:
	timed   bool          // lat is the measured request's own latency
	lat     time.Duration // used instead of the iteration's wall time when timed
	notSent bool          // the measured request was not sent: a setup step failed (err says why)
	step    *result       // the setup request before it (timed), reported as its own line
}

// failed reports whether r counts as an error.
func (r result) failed() bool {
	want := r.want
	if want == 0 {
		want = http.StatusOK
	}
	return r.notSent || r.err != nil || r.status != want || r.badBody
}

// asError turns a failed result into an error for setup code; nil if it
// did not fail.
func (r result) asError() error {
	switch {
	case !r.failed():
		return nil
	case r.err != nil:
		return r.err
	case r.badBody:
		return fmt.Errorf("status %d, unexpected response: %s", r.status, r.detail)
	default:
		return fmt.Errorf("status %d: %s", r.status, r.detail)
	}
}

// recorder collects one worker's measurements. Each worker owns exactly one
// recorder, so the hot loop needs no synchronisation.
type recorder struct {
	discard   bool // warm-up: count nothing
	lat       []time.Duration
	status    map[int]int64 // unexpected status codes
	transport int64
	badBody   int64
	notSent   int64
	firstErr  string // first transport error
	firstBad  string // first detail of an unexpected status or body
	firstNot  string // why the first unsent request was not sent
}

func newRecorder(prealloc int) *recorder {
	return &recorder{lat: make([]time.Duration, 0, prealloc)}
}

// add records one request. Latency is recorded for every request that was
// sent, including failed ones; failures are also counted as errors. A
// request that was not sent (its setup step failed) counts as an error
// without a latency.
func (r *recorder) add(d time.Duration, res result) {
	if r.discard {
		return
	}
	if res.notSent {
		r.notSent++
		if r.firstNot == "" && res.err != nil {
			r.firstNot = res.err.Error()
		}
		return
	}
	if res.timed {
		d = res.lat
	}
	r.lat = append(r.lat, d)
	want := res.want
	if want == 0 {
		want = http.StatusOK
	}
	switch {
	case res.err != nil:
		r.transport++
		if r.firstErr == "" {
			r.firstErr = res.err.Error()
		}
	case res.status != want:
		if r.status == nil {
			r.status = make(map[int]int64)
		}
		r.status[res.status]++
		r.noteBad(res.detail)
	case res.badBody:
		r.badBody++
		r.noteBad(res.detail)
	}
}

func (r *recorder) noteBad(detail string) {
	if r.firstBad == "" {
		r.firstBad = detail
	}
}

// summary is the merged view over all recorders of one worker group.
type summary struct {
	Requests  int64
	Elapsed   time.Duration
	RPS       float64
	P50, P90  time.Duration
	P99, Max  time.Duration
	Errors    int64
	Status    map[int]int64
	Transport int64
	BadBody   int64
	NotSent   int64
	FirstErr  string
	FirstBad  string
	FirstNot  string
}

// summarize merges per-worker recorders and computes the percentiles.
func summarize(recs []*recorder, elapsed time.Duration) summary {
	n := 0
	for _, r := range recs {
		n += len(r.lat)
	}
	all := make([]time.Duration, 0, n)
	s := summary{Elapsed: elapsed, Status: map[int]int64{}}
	for _, r := range recs {
		all = append(all, r.lat...)
		for code, c := range r.status {
			s.Status[code] += c
			s.Errors += c
		}
		s.Transport += r.transport
		s.BadBody += r.badBody
		s.NotSent += r.notSent
		if s.FirstErr == "" {
			s.FirstErr = r.firstErr
		}
		if s.FirstBad == "" {
			s.FirstBad = r.firstBad
		}
		if s.FirstNot == "" {
			s.FirstNot = r.firstNot
		}
	}
	s.Errors += s.Transport + s.BadBody + s.NotSent
	slices.Sort(all)
	s.Requests = int64(len(all))
	if elapsed > 0 {
		s.RPS = float64(s.Requests) / elapsed.Seconds()
	}
	s.P50 = percentile(all, 50)
	s.P90 = percentile(all, 90)
	s.P99 = percentile(all, 99)
	if len(all) > 0 {
		s.Max = all[len(all)-1]
	}
	return s
}

// percentile returns the p-th percentile (0 < p <= 100) of sorted using the
// nearest-rank method: the smallest value such that at least p% of the
// samples are less than or equal to it. It returns 0 for no samples.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	// p*n/100 rather than p/100*n keeps integral ranks exact; the epsilon
	// absorbs float noise for values such as 99.9.
	rank := int(math.Ceil(p*float64(n)/100 - 1e-9))
	rank = max(1, min(rank, n))
	return sorted[rank-1]
}

// fmtDur prints a latency compactly: µs below 1ms, ms with one decimal below
// 1s, seconds with two decimals above.
func fmtDur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return strconv.FormatInt(d.Microseconds(), 10) + "µs"
	case d < time.Second:
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + "ms"
	default:
		return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + "s"
	}
}

// line renders the one-line report for a worker group.
func (s summary) line(name string, c int, d time.Duration) string {
	return fmt.Sprintf("%-20s c=%d  d=%s  reqs=%d  rps=%.1f  p50=%s p90=%s p99=%s max=%s errors=%d",
		name, c, d, s.Requests, s.RPS, fmtDur(s.P50), fmtDur(s.P90), fmtDur(s.P99), fmtDur(s.Max), s.Errors)
}

// breakdown describes the errors, or returns "" if there were none.
func (s summary) breakdown() string {
	if s.Errors == 0 {
		return ""
	}
	var parts []string
	if len(s.Status) > 0 {
		codes := make([]int, 0, len(s.Status))
		for c := range s.Status {
			codes = append(codes, c)
		}
		slices.Sort(codes)
		st := make([]string, len(codes))
		for i, c := range codes {
			st[i] = fmt.Sprintf("%d×%d", c, s.Status[c])
		}
		parts = append(parts, "status "+strings.Join(st, " "))
	}
	if s.BadBody > 0 {
		parts = append(parts, fmt.Sprintf("unexpected-body×%d", s.BadBody))
	}
	if s.FirstBad != "" {
		parts = append(parts, fmt.Sprintf("first unexpected: %.200s", s.FirstBad))
	}
	if s.Transport > 0 {
		parts = append(parts, fmt.Sprintf("transport×%d (first: %s)", s.Transport, s.FirstErr))
	}
	if s.NotSent > 0 {
		parts = append(parts, fmt.Sprintf("not-sent×%d (first: %.200s)", s.NotSent, s.FirstNot))
	}
	return "unexpected: " + strings.Join(parts, "; ")
}

// jsonSummary is the machine-readable form of a summary (-json).
type jsonSummary struct {
	Concurrency int              `json:"concurrency"`
	Requests    int64            `json:"requests"`
	ElapsedS    float64          `json:"elapsed_s"`
	RPS         float64          `json:"rps"`
	P50Ms       float64          `json:"p50_ms"`
	P90Ms       float64          `json:"p90_ms"`
	P99Ms       float64          `json:"p99_ms"`
	MaxMs       float64          `json:"max_ms"`
	Errors      int64            `json:"errors"`
	Status      map[string]int64 `json:"unexpected_status,omitempty"`
	BadBody     int64            `json:"unexpected_body,omitempty"`
	Transport   int64            `json:"transport_errors,omitempty"`
	NotSent     int64            `json:"not_sent,omitempty"`
}

func (s summary) json(c int) jsonSummary {
	ms := func(d time.Duration) float64 {
		return math.Round(float64(d)/float64(time.Microsecond)) / 1000
	}
	j := jsonSummary{
		Concurrency: c,
		Requests:    s.Requests,
		ElapsedS:    math.Round(s.Elapsed.Seconds()*1000) / 1000,
		RPS:         math.Round(s.RPS*10) / 10,
		P50Ms:       ms(s.P50),
		P90Ms:       ms(s.P90),
		P99Ms:       ms(s.P99),
		MaxMs:       ms(s.Max),
		Errors:      s.Errors,
		BadBody:     s.BadBody,
		Transport:   s.Transport,
		NotSent:     s.NotSent,
	}
	if len(s.Status) > 0 {
		j.Status = make(map[string]int64, len(s.Status))
		for c, n := range s.Status {
			j.Status[strconv.Itoa(c)] = n
		}
	}
	return j
}
