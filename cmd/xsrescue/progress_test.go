package main

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"
)

func TestRateMeter(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1_700_000_000, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	const ms = time.Millisecond
	type sample struct {
		d time.Duration
		n int64
	}
	steady := func(from, to, step time.Duration, perSecond int64, base int64) []sample {
		var s []sample
		for d := from; d <= to; d += step {
			s = append(s, sample{d, base + int64(float64(perSecond)*(d-from).Seconds())})
		}
		return s
	}
	for _, tt := range []struct {
		name    string
		samples []sample
		want    float64 // units per second; -1: no rate
	}{
		{"nothing yet", nil, -1},
		{"one sample", []sample{{10 * ms, 1 << 30}}, -1},
		// The first tick right after the start: a GiB in 1 ms is no rate.
		{"first tick", []sample{{ms, 1 << 30}, {2 * ms, 1<<30 + 1<<20}}, -1},
		{"under the minimum span", steady(0, 900*ms, 100*ms, 100<<20, 0), -1},
		// The jump before the first sample does not count: only what
		// happened between samples.
		{"fast start then steady", steady(ms, 3001*ms, 100*ms, 50<<20, 1<<30), 50 << 20},
		{"steady", steady(0, 3*time.Second, 100*ms, 80<<20, 0), 80 << 20},
		// 100 MB/s for 10 s, then 10 MB/s for 5 s: the window forgets the
		// fast part.
		{"slowed down", append(steady(0, 10*time.Second, 100*ms, 100e6, 0), steady(10100*ms, 15100*ms, 100*ms, 10e6, 1e9+1e6)...), 10e6},
		{"stalled", append(steady(0, 2*time.Second, 100*ms, 10e6, 0), steady(2100*ms, 9*time.Second, 100*ms, 0, 20e6)...), 0},
		{"count went back", []sample{{0, 500}, {2 * time.Second, 100}}, -1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := rateMeter{window: rateWindow, minSpan: rateMinSpan}
			for _, s := range tt.samples {
				m.add(at(s.d), s.n)
			}
			got, ok := m.rate()
			switch {
			case tt.want < 0 && ok:
				t.Errorf("rate %.0f/s, want none yet", got)
			case tt.want >= 0 && !ok:
				t.Errorf("no rate, want %.0f/s", tt.want)
			case tt.want >= 0 && math.Abs(got-tt.want) > 0.03*tt.want+1:
				t.Errorf("rate %.0f/s, want %.0f/s", got, tt.want)
			}
		})
	}
}

// However often work is reported, the window keeps a bounded number of
// samples.
func TestRateMeterBounded(t *testing.T) {
	t.Parallel()
	m := rateMeter{window: rateWindow, minSpan: rateMinSpan}
	t0 := time.Unix(0, 0)
	for i := 0; i < 100_000; i++ {
		m.add(t0.Add(time.Duration(i)*time.Millisecond), int64(i)<<20)
	}
	if n := len(m.samples); n > 60 {
		t.Errorf("%d samples kept", n)
	}
	if r, ok := m.rate(); !ok || math.Abs(r-1000*(1<<20)) > 0.01*1000*(1<<20) {
		t.Errorf("rate %.0f, %v; want 1000 MiB/s", r, ok)
	}
}

// TestProgressLine: the line drawn shows bytes done of the total, and a rate
// only once there is one over the window: never the "122 GB/s" of a first
// tick.
func TestProgressLine(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	now := time.Unix(0, 0)
	p := startProgress(&b, "saving partition", 4<<30, func() time.Time { return now })
	now = now.Add(time.Millisecond)
	p.Set(1 << 30) // a sparse hole skipped right at the start
	if s := b.String(); !strings.Contains(s, "saving partition: 1.0 GiB of 4.0 GiB") || strings.Contains(s, "/s") {
		t.Errorf("first tick: %q", s)
	}
	// The bar moved within milliseconds: the text moves with it.
	now = now.Add(time.Millisecond)
	p.Set(1<<30 + 1<<20)
	if s := b.String(); !strings.HasSuffix(strings.TrimRight(s, " "), "saving partition: 1.0 GiB of 4.0 GiB") {
		t.Errorf("same percentage, 1 ms later: %q", s[max(0, len(s)-120):])
	}
	now = now.Add(time.Millisecond)
	p.Set(2 << 30)
	if s := b.String(); !strings.HasSuffix(strings.TrimRight(s, " "), "saving partition: 2.0 GiB of 4.0 GiB") {
		t.Errorf("bar moved, text stale: %q", s[max(0, len(s)-120):])
	}
	// 6 s at 100 MiB/s: the window (5 s) has forgotten the jump.
	for i := 1; i <= 60; i++ {
		now = now.Add(100 * time.Millisecond)
		p.Set(2<<30 + int64(i)*(10<<20))
	}
	if s := b.String(); !strings.HasSuffix(strings.TrimRight(s, " "), "saving partition: 2.6 GiB of 4.0 GiB, 100.0 MiB/s") {
		t.Errorf("after 6 s at 100 MiB/s: %q", s[max(0, len(s)-120):])
	}
	var nilBar *progressBar // not a terminal, or --json
	nilBar.Set(1)
	nilBar.Finish()
	if r := nilBar.Reader(strings.NewReader("x")); r == nil {
		t.Error("nil bar: no reader")
	}
}

// TestProgressDrawing: the bar fills with the percentage, a shorter line
// blanks what the longer one left, an unknown total spins, and Finish
// clears the line.
func TestProgressDrawing(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	now := time.Unix(0, 0)
	p := startProgress(&b, "restoring partition", 1000, func() time.Time { return now })
	p.Set(500)
	if want := "\r 50% [==========          ] restoring partition: 500 B of 1000 B"; b.String() != want {
		t.Errorf("half: %q, want %q", b.String(), want)
	}
	b.Reset()
	p.Set(2000) // more than the total: a full bar, never past it
	if !strings.HasPrefix(b.String(), "\r100% [====================] ") {
		t.Errorf("full: %q", b.String())
	}
	b.Reset()
	p.Finish()
	if s := b.String(); !strings.HasPrefix(s, "\r ") || !strings.HasSuffix(s, " \r") || strings.Trim(s, " \r") != "" {
		t.Errorf("finish: %q", s)
	}
	b.Reset()
	u := startProgress(&b, "reading", 0, func() time.Time { return now })
	u.Set(10)
	now = now.Add(time.Second)
	u.Set(20)
	if s := b.String(); !strings.HasPrefix(s, "\r| reading: 10 B") || !strings.Contains(s, "\r/ reading: 20 B") {
		t.Errorf("spinner: %q", s)
	}
}
