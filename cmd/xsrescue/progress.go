package main

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Rate window of progress bars: the rate shown is the bytes of the last
// rateWindow over its span, and none is shown before the samples span
// rateMinSpan. The library's own rate divides the bytes so far by the time
// since the start until it has a half-second sample, so a first tick right
// after a fast start (a sparse hole skipped, data still in the page cache)
// read "122 GB/s".
const (
	rateWindow  = 5 * time.Second
	rateMinSpan = time.Second
	// redrawEvery limits how often the text is redrawn (it changes with
	// every chunk); it is redrawn too whenever the bar moves, so that both
	// say the same (a sparse hole skips ahead within milliseconds).
	redrawEvery = 200 * time.Millisecond
)

// progressBar is a progress line on stderr: schollz/progressbar draws the
// bar (or a spinner when the total is unknown), the text after it, bytes
// done and the rate, is ours. A nil *progressBar does nothing, so callers
// need not check whether one is shown.
type progressBar struct {
	bar     *progressbar.ProgressBar
	what    string
	total   int64 // -1: unknown
	rate    rateMeter
	drawn   time.Time
	percent int64 // of the text drawn last
	now     func() time.Time
}

func startProgress(w io.Writer, what string, total int64, now func() time.Time) *progressBar {
	max := total
	if max == 0 {
		max = -1 // the library refuses a total of 0
	}
	p := &progressBar{what: what, total: total, now: now, percent: -1,
		rate: rateMeter{window: rateWindow, minSpan: rateMinSpan}}
	p.bar = progressbar.NewOptions64(max,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowDescriptionAtLineEnd(),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionSetElapsedTime(false),
		progressbar.OptionClearOnFinish(),
	)
	return p
}

// Set reports n bytes done in all.
func (p *progressBar) Set(n int64) {
	if p == nil {
		return
	}
	at := p.now()
	p.rate.add(at, n)
	percent := int64(-1)
	if p.total > 0 {
		percent = n * 100 / p.total
	}
	_ = p.bar.Set64(n)
	if at.Sub(p.drawn) >= redrawEvery || percent != p.percent {
		p.drawn, p.percent = at, percent
		p.bar.Describe(p.text(n))
	}
}

// Finish clears the line.
func (p *progressBar) Finish() {
	if p != nil {
		_ = p.bar.Finish()
	}
}

// Reader counts what is read through r into the bar.
func (p *progressBar) Reader(r io.Reader) io.Reader {
	if p == nil {
		return r
	}
	return &progressReader{r: r, p: p}
}

type progressReader struct {
	r io.Reader
	p *progressBar
	n int64
}

func (pr *progressReader) Read(b []byte) (int, error) {
	n, err := pr.r.Read(b)
	pr.n += int64(n)
	pr.p.Set(pr.n)
	return n, err
}

func (p *progressBar) text(n int64) string {
	s := p.what + ": " + humanSize(n)
	if p.total > 0 {
		s += " of " + humanSize(p.total)
	}
	if r, ok := p.rate.rate(); ok {
		s += fmt.Sprintf(", %s/s", humanSize(int64(r)))
	}
	return s
}

// rateMeter measures a rate over a sliding window of (time, total) samples.
type rateMeter struct {
	window  time.Duration // samples older than this before the newest are dropped
	minSpan time.Duration // no rate until the samples span this much
	samples []rateSample
}

type rateSample struct {
	at time.Time
	n  int64
}

// add records that n units were done in all at time at. Samples closer than
// a tenth of minSpan to the previous one replace it, so a window holds a few
// dozen samples however often work is reported.
func (m *rateMeter) add(at time.Time, n int64) {
	if k := len(m.samples); k >= 2 && at.Sub(m.samples[k-2].at) < m.minSpan/10 {
		m.samples[k-1] = rateSample{at, n}
	} else {
		m.samples = append(m.samples, rateSample{at, n})
	}
	drop := 0
	for drop < len(m.samples)-1 && at.Sub(m.samples[drop+1].at) >= m.window {
		drop++
	}
	m.samples = m.samples[drop:]
}

// rate is units per second over the window, and false until the samples
// span minSpan (or when the count went backwards).
func (m *rateMeter) rate() (float64, bool) {
	if len(m.samples) < 2 {
		return 0, false
	}
	first, last := m.samples[0], m.samples[len(m.samples)-1]
	span := last.at.Sub(first.at)
	if span < m.minSpan || last.n < first.n {
		return 0, false
	}
	return float64(last.n-first.n) / span.Seconds(), true
}
