package log

// closedChan is handed to waiters of a closed Log.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// Changed returns a channel that is closed when records are next published
// to readers (NextSeq grows) or the Log is closed. Each publish closes the
// channel and the next call makes a fresh one, so only logs with waiters
// pay for it. A reader that must not miss a commit takes the channel before
// it looks at NextSeq:
//
//	ch := l.Changed()
//	if l.NextSeq() > seq {
//		// read
//	} else {
//		select { case <-ch: …; case <-timer.C: …; case <-ctx.Done(): … }
//	}
func (l *Log) Changed() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return closedChan
	}
	if l.changed == nil {
		l.changed = make(chan struct{})
	}
	return l.changed
}

// wake closes the channel handed out by Changed, if anyone asked for one.
// Callers hold l.mu for writing.
func (l *Log) wake() {
	if l.changed != nil {
		close(l.changed)
		l.changed = nil
	}
}
