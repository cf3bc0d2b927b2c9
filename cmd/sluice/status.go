package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/connectors"
)

// startStatus reports the bad records of a running job on w: every
// interval (0: never), a status line for each source table whose summary
// changed since the last one; and, when the returned stop is called at the
// end of the job, the final summary of every table that skipped some.
func startStatus(w io.Writer, interval time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	if interval > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(interval)
			defer tick.Stop()
			last := ""
			for {
				select {
				case <-done:
					return
				case <-tick.C:
				}
				s := connectors.Summaries()
				if now := strings.Join(s, "\n"); now != last {
					last = now
					for _, line := range s {
						fmt.Fprintf(w, "sluice: status: %s so far\n", line)
					}
				}
			}
		}()
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			wg.Wait()
			for _, line := range connectors.Summaries() {
				fmt.Fprintf(w, "sluice: %s\n", line)
			}
		})
	}
}
