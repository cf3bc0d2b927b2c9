package nexmark

import "testing"

// builtAtStart is whether the generator's tables existed right after the
// package was initialised (a test file's init runs after the package's).
var builtAtStart bool

func init() { builtAtStart = channels != nil || extraText != "" }

// TestTablesAreBuiltByTheFirstGeneratorNotAtStart: the channel, URL and
// extra-text tables (about 5 MB in 68,000 allocations, some 50 ms) are
// built when the first generator is made, so that the sluice commands that
// generate no event do not pay for them when they start.
func TestTablesAreBuiltByTheFirstGeneratorNotAtStart(t *testing.T) {
	if builtAtStart {
		t.Fatal("the tables were built when the package was initialised")
	}
	NewGenerator(DefaultConfig())
	if len(channels) != numChannels || len(channelURLs) != numChannels || extraText == "" {
		t.Fatalf("after NewGenerator: %d channels, %d URLs, %d bytes of extra text", len(channels), len(channelURLs), len(extraText))
	}
}
