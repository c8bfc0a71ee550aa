package main

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"
)

// stats are one worker's results.
type stats struct {
	lat    []time.Duration
	errors map[string]int
}

func (s *stats) add(d time.Duration, status int, err error) {
	if err == nil {
		s.lat = append(s.lat, d)
		return
	}
	if s.errors == nil {
		s.errors = map[string]int{}
	}
	key := "transport"
	if status != 0 {
		key = fmt.Sprint(status)
	}
	s.errors[key]++
}

// report is one scenario's result in one step.
type report struct {
	e        entry
	elapsed  time.Duration
	ok       int
	errors   map[string]int
	p50, p95 time.Duration
	p99, max time.Duration
}

func newReport(e entry, elapsed time.Duration, per []*stats) *report {
	r := &report{e: e, elapsed: elapsed, errors: map[string]int{}}
	var all []time.Duration
	for _, s := range per {
		all = append(all, s.lat...)
		for k, v := range s.errors {
			r.errors[k] += v
		}
	}
	slices.Sort(all)
	r.ok = len(all)
	r.p50, r.p95, r.p99 = percentile(all, 0.50), percentile(all, 0.95), percentile(all, 0.99)
	if len(all) > 0 {
		r.max = all[len(all)-1]
	}
	return r
}

// percentile is the nearest-rank percentile of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func (r *report) rate() float64 { return float64(r.ok) / r.elapsed.Seconds() }

func (r *report) write(w io.Writer) {
	var errs []string
	keys := make([]string, 0, len(r.errors))
	for k := range r.errors {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		errs = append(errs, fmt.Sprintf("%s×%d", k, r.errors[k]))
	}
	if len(errs) == 0 {
		errs = []string{"none"}
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }
	fmt.Fprintf(w, "%-18s c=%-4d ok=%-7d %8.0f/s  p50=%-8s p95=%-8s p99=%-8s max=%-8s errors=%s  (%.1fs)\n",
		r.e.name, r.e.workers, r.ok, r.rate(), ms(r.p50), ms(r.p95), ms(r.p99), ms(r.max), strings.Join(errs, ","), r.elapsed.Seconds())
}
