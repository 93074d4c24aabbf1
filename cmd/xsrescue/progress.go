package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Rate window of progress bars: the rate shown is the bytes of the last
// rateWindow over its span, and none is shown before the samples span
// rateMinSpan: bytes so far over the time since the start would show
// "122 GB/s" after a fast first tick (a sparse hole skipped, data still in
// the page cache).
const (
	rateWindow  = 5 * time.Second
	rateMinSpan = time.Second
	// redrawEvery limits how often the text is redrawn (it changes with
	// every chunk); it is redrawn too whenever the bar moves, so that both
	// say the same (a sparse hole skips ahead within milliseconds).
	redrawEvery = 200 * time.Millisecond
)

// progressBar is a progress line on stderr: a bar (or a spinner when the
// total is unknown), then bytes done and the rate. A nil *progressBar does
// nothing, so callers need not check whether one is shown. Drawn here, not
// by a library: the one used before (schollz/progressbar) links net/http
// and crypto/tls into a rescue binary and costs start-up time on every
// command, for a line of text.
type progressBar struct {
	w       io.Writer
	what    string
	total   int64 // -1: unknown
	rate    rateMeter
	drawn   time.Time
	percent int64 // of the line drawn last
	width   int   // bytes of the line drawn last, blanked by the next one
	spin    int
	now     func() time.Time
}

// barCells is the width of the bar between its brackets.
const barCells = 20

func startProgress(w io.Writer, what string, total int64, now func() time.Time) *progressBar {
	if total == 0 {
		total = -1
	}
	return &progressBar{w: w, what: what, total: total, now: now, percent: -1,
		rate: rateMeter{window: rateWindow, minSpan: rateMinSpan}}
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
		percent = min(max(n, 0), p.total) * 100 / p.total
	}
	if at.Sub(p.drawn) >= redrawEvery || percent != p.percent {
		p.drawn, p.percent = at, percent
		p.draw(n)
	}
}

func (p *progressBar) draw(n int64) {
	var line string
	if p.total > 0 {
		done := int(min(max(n, 0), p.total) * barCells / p.total)
		line = fmt.Sprintf("%3d%% [%s%s] %s", p.percent, strings.Repeat("=", done), strings.Repeat(" ", barCells-done), p.text(n))
	} else {
		line = fmt.Sprintf("%c %s", `|/-\`[p.spin%4], p.text(n))
		p.spin++
	}
	fmt.Fprintf(p.w, "\r%s%s", line, strings.Repeat(" ", max(0, p.width-len(line))))
	p.width = len(line)
}

// Finish clears the line.
func (p *progressBar) Finish() {
	if p != nil && p.width > 0 {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.width))
		p.width = 0
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
