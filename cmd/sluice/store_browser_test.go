package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/browsertest"
)

// A page from another origin calls the store from a browser: the
// preflights of its Kinesis requests pass, and it can read the answers,
// their request ids and the error types of failures.
func TestStoreServesBrowsersOfOtherOrigins(t *testing.T) {
	b := browsertest.New(t, 800, 600)
	store, _, _ := startStoreLogged(t, t.TempDir())
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>kinesis from a page</title><script>
window.result = null;
async function call(op, body) {
  const r = await fetch(%q + "/", {method: "POST", body: JSON.stringify(body),
    headers: {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "Kinesis_20131202." + op}});
  return {status: r.status, id: r.headers.get("x-amzn-RequestId"), type: r.headers.get("x-amzn-ErrorType"), body: await r.json()};
}
(async () => {
  const created = await call("CreateStream", {StreamName: "web", ShardCount: 1});
  for (let i = 0; i < 100; i++) { // CREATING briefly, as Kinesis
    const d = await call("DescribeStreamSummary", {StreamName: "web"});
    if (d.body.StreamDescriptionSummary && d.body.StreamDescriptionSummary.StreamStatus === "ACTIVE") break;
    await new Promise(r => setTimeout(r, 50));
  }
  const put = await call("PutRecord", {StreamName: "web", PartitionKey: "k", Data: btoa("from a page")});
  const missing = await call("DescribeStream", {StreamName: "nope"});
  window.result = {created, put, missing};
})().catch(e => { window.result = {error: String(e)}; });
</script>`, store)
	}))
	defer page.Close()
	if strings.HasPrefix(page.URL, store) || strings.HasPrefix(store, page.URL) {
		t.Fatalf("the page (%s) and the store (%s) share an origin", page.URL, store)
	}
	b.Navigate(page.URL)
	b.WaitFor("the page's calls", "window.result !== null", 15*time.Second)
	raw, err := browsertest.Eval[string](b, "JSON.stringify(window.result)")
	if err != nil {
		t.Fatal(err)
	}
	type answer struct {
		Status int            `json:"status"`
		ID     string         `json:"id"`
		Type   string         `json:"type"`
		Body   map[string]any `json:"body"`
	}
	var got struct {
		Error                 string
		Created, Put, Missing answer
	}
	if err := json.Unmarshal([]byte(raw), &got); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	if got.Error != "" {
		t.Fatalf("the page's calls failed: %s (problems: %v)", got.Error, b.Problems())
	}
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	if got.Created.Status != 200 || got.Put.Status != 200 || got.Put.Body["ShardId"] != "shardId-000000000000" {
		t.Fatalf("calls from the page: %s", raw)
	}
	if got.Missing.Status != 400 || got.Missing.Type != "ResourceNotFoundException" {
		t.Fatalf("a failing call from the page: %s", raw)
	}
	for _, a := range []answer{got.Created, got.Put, got.Missing} {
		if !uuid.MatchString(a.ID) {
			t.Fatalf("the page cannot read the request id: %s", raw)
		}
	}
}
