package gateway

import (
	"context"
	"math/rand/v2"
	"net/http"
	"slices"
)

// shadowJob is one mirrored request waiting for a worker. It owns copies
// of everything it needs: the primary's buffers go back to the pool as
// soon as the client has its answer.
type shadowJob struct {
	rt        *route
	kind      int
	body      []byte
	header    http.Header
	primary   *Outputs
	primaryMs float64
	chatText  string // production's chat answer (kindChat)
}

// maybeShadow mirrors a request answered by stable to the candidate, at
// the route's shadow share.
func (g *Gateway) maybeShadow(rt *route, answered *backend, kind int, body []byte, hdr http.Header, res result, preview bool) {
	if !preview && rt.shadowMilli > 0 && rt.candidate != nil && answered == rt.stable && res.outcome == outcomeOK &&
		(rt.shadowMilli >= 1e6 || rand.Uint64N(1e6) < rt.shadowMilli) {
		g.enqueueShadow(rt, kind, body, hdr, res)
	}
}

// enqueueShadow never blocks: a full queue drops the mirror and counts
// it, so that a slow candidate cannot slow the primary path down.
func (g *Gateway) enqueueShadow(rt *route, kind int, body []byte, hdr http.Header, res result) {
	sh := &rt.model.shadow
	if len(g.shadowQ) == cap(g.shadowQ) {
		// Full: drop before copying the body, the common case when the
		// candidate is slower than the traffic.
		sh.dropped.Add(1)
		rt.shadowMetrics.dropped.Inc()
		return
	}
	job := shadowJob{rt: rt, kind: kind, body: slices.Clone(body), primary: res.outputs, primaryMs: res.latencyMs, chatText: res.chat.Text}
	if ct := hdr.Get("Content-Type"); ct != "" {
		job.header = http.Header{"Content-Type": {ct}}
	}
	select {
	case g.shadowQ <- job:
		sh.mu.Lock()
		sh.mirrored++
		sh.mu.Unlock()
	default:
		sh.dropped.Add(1)
		rt.shadowMetrics.dropped.Inc()
	}
}

func (g *Gateway) shadowWorker() {
	defer g.wg.Done()
	for {
		select {
		case job := <-g.shadowQ:
			g.runShadow(job)
		case <-g.closed:
			for {
				select {
				case job := <-g.shadowQ:
					g.runShadow(job)
				default:
					return
				}
			}
		}
	}
}

func (g *Gateway) runShadow(job shadowJob) {
	c := job.rt.candidate
	// The shadow call is detached from the client's request: the client
	// is long gone by the time it runs.
	body := job.body
	if job.kind == kindChat {
		// The copy is asked for a whole answer: the comparison needs the
		// text, not the stream's timing.
		if b, err := unstreamed(body); err == nil {
			body = b
		}
	}
	res := g.call(context.Background(), c, job.kind, body, job.header)
	defer g.putBuf(res.buf)
	failed := res.outcome != outcomeOK
	sh := &job.rt.model.shadow
	sh.compare(job.primary, res.outputs, job.primaryMs, res.latencyMs, job.rt.threshold, failed)
	if job.kind == kindChat && !failed {
		sh.compareChat(job.chatText, res.chat.Text)
	}
	m := job.rt.shadowMetrics
	if failed {
		m.errors.Inc()
	} else {
		m.compared.Inc()
	}
	m.latency.Observe(res.latencyMs / 1e3)
	sh.mu.Lock()
	if sh.rows > 0 {
		if m.agreement == nil {
			m.agreement = m.vec.WithLabelValues(m.model)
		}
		m.agreement.Set(float64(sh.agreeRows) / float64(sh.rows))
	}
	sh.mu.Unlock()
}
