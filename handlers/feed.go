package handlers

import (
	"bytes"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// Timing of the event stream.
const (
	// keepAliveEvery sends a comment line on an idle stream (SPEC §10), so
	// that proxies keep it open and the consumer knows the server lives.
	keepAliveEvery = 15 * time.Second
	// feedPollEvery bounds how late a stream shows an event another server
	// wrote; this server's own commits wake the stream at once.
	feedPollEvery = 250 * time.Millisecond
	// feedBatchGap gathers events committed in quick succession into one
	// read, so that a busy store costs a stream at most 1/feedBatchGap
	// reads a second however many writes it takes.
	feedBatchGap = 20 * time.Millisecond
	// feedBatch is the most events read at once.
	feedBatch = 500
	// streamWriteTimeout bounds one write to a consumer that stopped
	// reading; the server's own write timeout would end every stream.
	streamWriteTimeout = 30 * time.Second
)

// wantsEventStream reports whether the request's Accept names
// text/event-stream.
func wantsEventStream(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get(echo.HeaderAccept), ",") {
		if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == "text/event-stream" {
			return true
		}
	}
	return false
}

// streamEvents sends every event with seq > after as Server-Sent Events and
// then follows the store until the consumer leaves or the server stops.
// Because seq increases in commit order (see db.takeSeqsSQL), reading
// "seq > last sent" never skips an event that committed late. A stream
// behind the server's hub reads the store's pages, shared with the other
// streams behind (feedHub.page); once caught up it takes the hub's frames,
// rendered once for every stream.
func (s *Server) streamEvents(c echo.Context, after int64) error {
	ctx := c.Request().Context()
	w := c.Response()
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set(echo.HeaderContentType, "text/event-stream")
	h.Set(echo.HeaderCacheControl, "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	// A comment first, so the consumer sees the stream open at once.
	if err := s.sendStream(rc, w, []byte(": stream of oauth client events\n\n")); err != nil {
		return nil
	}
	s.feed.join()
	defer s.feed.leave()
	keepAlive := time.NewTicker(keepAliveEvery)
	defer keepAlive.Stop()
	poll := time.NewTimer(feedPollEvery)
	defer poll.Stop()
	var buf bytes.Buffer
	for {
		buf.Reset()
		frames, grown, fromHub := s.feed.after(after, feedBatch)
		var wake <-chan struct{} = grown
		if !fromHub {
			// Behind the hub: a page of the store, shared with the other
			// streams behind it.
			wake = s.store.EventsWritten()
			var err error
			if frames, err = s.feed.page(ctx, after); err != nil {
				if ctx.Err() == nil {
					s.log.Warn("event stream ended", "trackingId", trackingID(c), "error", err.Error())
				}
				return nil
			}
		}
		n := len(frames)
		for _, f := range frames {
			buf.Write(f.data)
			after = f.seq
		}
		if buf.Len() > 0 {
			if err := s.sendStream(rc, w, buf.Bytes()); err != nil {
				return nil
			}
			keepAlive.Reset(keepAliveEvery)
		}
		if n == feedBatch || (!fromHub && n > 0) {
			continue
		}
		poll.Reset(feedPollEvery)
		select {
		case <-wake:
		case <-poll.C:
		case <-keepAlive.C:
			if err := s.sendStream(rc, w, []byte(": keep-alive\n\n")); err != nil {
				return nil
			}
		case <-ctx.Done():
			return nil
		case <-s.stop:
			return nil
		}
	}
}

// sendStream writes b and flushes it, with a deadline of its own.
func (s *Server) sendStream(rc *http.ResponseController, w http.ResponseWriter, b []byte) error {
	_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
	if _, err := w.Write(b); err != nil {
		return err
	}
	return rc.Flush()
}
