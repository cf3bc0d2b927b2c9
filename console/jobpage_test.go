package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice/internal/browsertest"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sql"
)

// clicksJob has a filter, a keyed tumbling window and a keyed GROUP BY on
// two branches of one source: chained FORWARD edges and HASH edges.
const clicksJob = `
CREATE TABLE clicks (page_id BIGINT, user_id BIGINT, latency_ms INT, ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'datagen', 'rows-per-second' = '4000', 'fields.page_id.min' = '0', 'fields.page_id.max' = '9',
  'fields.user_id.min' = '0', 'fields.user_id.max' = '999', 'fields.latency_ms.min' = '0', 'fields.latency_ms.max' = '1000',
  'fields.ts.kind' = 'sequence', 'fields.ts.start' = 'now', 'fields.ts.step' = '250us');
CREATE TABLE views_per_page WITH ('connector' = 'blackhole');
CREATE TABLE clicks_per_user WITH ('connector' = 'blackhole');
INSERT INTO views_per_page SELECT page_id, TUMBLE_END(ts, INTERVAL '1' SECOND) AS window_end, COUNT(*) AS views
FROM clicks WHERE latency_ms < 800 GROUP BY page_id, TUMBLE(ts, INTERVAL '1' SECOND);
INSERT INTO clicks_per_user SELECT user_id, COUNT(*) AS clicks FROM clicks GROUP BY user_id;
`

// runOnConsole runs a SQL job, with checkpoints when cp is set, on a
// console of its own (on a free loopback port) until the test ends; the
// console shows the job ended as soon as its run returns.
func runOnConsole(t *testing.T, src string, cp *runtime.CheckpointOptions) (*Server, *Job) {
	t.Helper()
	set := metrics.NewSet()
	plan, err := sql.Compile(src, sql.Options{File: "clickstream.sql", Parallelism: 2, Metrics: set})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Start(Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	j := &Job{Name: plan.Graph.Name, Plan: plan.Graph.Physical(2), Metrics: set}
	ended := s.AddJob(j)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		err := runtime.Run(ctx, plan.Graph, runtime.Options{Parallelism: 2, Metrics: set, Checkpoints: cp})
		ended()
		done <- err
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		plan.Close(context.Background())
	})
	return s, j
}

// apiJobFields is /api/v1/job as a map, to see which fields the server sends.
func apiJobFields(t *testing.T, s *Server) map[string]any {
	t.Helper()
	resp, err := http.Get(s.URL() + "api/v1/job")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func evalT[T any](t *testing.T, b *browsertest.Browser, expr string) T {
	t.Helper()
	v, err := browsertest.Eval[T](b, expr)
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

func TestJobPageGraphShowsEveryOperatorEdgeAndLiveRates(t *testing.T) {
	s, j := runOnConsole(t, clicksJob, &runtime.CheckpointOptions{Dir: t.TempDir(), Interval: 300 * time.Millisecond})
	b := browsertest.New(t, 1280, 800)
	b.Navigate(s.URL() + "job")
	ops := j.Plan.Operators
	b.WaitFor("a box per operator", fmt.Sprintf("document.querySelectorAll('#graph [data-operator]').length === %d", len(ops)), 10*time.Second)

	// Every operator of the plan, by id and name.
	got := evalT[map[string]string](t, b, `Object.fromEntries(Array.from(document.querySelectorAll('#graph [data-operator]'), g => [g.dataset.id, g.dataset.operator]))`)
	for _, op := range ops {
		if name := got[fmt.Sprint(op.ID)]; name != op.Name {
			t.Errorf("operator %d: the box says %q, the plan %q", op.ID, name, op.Name)
		}
	}

	// One edge per input, of the plan's kind; chained ones marked.
	var edges, chained, hash int
	kinds := map[string]string{}
	for _, op := range ops {
		for _, in := range op.Inputs {
			edges++
			if in.Chained {
				chained++
			}
			if in.Edge == "HASH" {
				hash++
			}
			kinds[fmt.Sprintf("%d>%d", in.From, op.ID)] = in.Edge
		}
	}
	if hash == 0 || chained == 0 {
		t.Fatalf("the job should have HASH and chained edges: %d, %d", hash, chained)
	}
	gotEdges := evalT[map[string]string](t, b, `Object.fromEntries(Array.from(document.querySelectorAll('#graph [data-edge]'), e => [e.dataset.from + '>' + e.dataset.to, e.dataset.edge]))`)
	if n := evalT[int](t, b, `document.querySelectorAll('#graph [data-edge]').length`); n != edges {
		t.Errorf("%d edges drawn, the plan has %d inputs", n, edges)
	}
	for k, kind := range kinds {
		if gotEdges[k] != kind {
			t.Errorf("edge %s: drawn as %q, the plan says %q", k, gotEdges[k], kind)
		}
	}
	if n := evalT[int](t, b, `document.querySelectorAll('#graph [data-edge].chained').length`); n != chained {
		t.Errorf("%d chained edges drawn, the plan has %d", n, chained)
	}
	if n := evalT[int](t, b, `document.querySelectorAll('#graph .chain').length`); n == 0 {
		t.Error("no chain outlined")
	}
	if bad := edgesCrossingBoxes(t, b); len(bad) > 0 {
		t.Errorf("edges drawn across boxes: %v", bad)
	}

	// Rates: every box shows rows flowing (sources out, the others in).
	b.WaitFor("non-zero rates on every operator", `Array.from(document.querySelectorAll('#graph [data-operator]')).every(g =>
		Number(g.dataset.kind === 'source' ? g.dataset.rowsOutPerS : g.dataset.rowsInPerS) > 0)`, 15*time.Second)
	// The page updates the graph in place: the same SVG, no element
	// created, new figures.
	evalT[bool](t, b, `(() => {
		window.testSVG = document.querySelector('#graph svg');
		window.testRates = Array.from(document.querySelectorAll('#graph [data-operator]'), g => g.dataset.rowsInPerS).join();
		window.testCreated = 0;
		new MutationObserver(list => { for (const r of list) for (const n of r.addedNodes) if (n.nodeType === 1) window.testCreated++; })
			.observe(document.getElementById('graph'), {subtree: true, childList: true});
		return true; })()`)
	b.WaitFor("the rates to change", `Array.from(document.querySelectorAll('#graph [data-operator]'), g => g.dataset.rowsInPerS).join() !== window.testRates`, 5*time.Second)
	if !evalT[bool](t, b, `document.querySelector('#graph svg') === window.testSVG`) {
		t.Error("the graph's SVG was drawn again instead of updated")
	}
	if n := evalT[int](t, b, `window.testCreated`); n != 0 {
		t.Errorf("an update created %d elements in the graph, want none", n)
	}

	// Clicking an operator shows its subtasks; Enter on another one too.
	var window, agg runtime.PlanOperator
	for _, op := range ops {
		if strings.HasPrefix(op.Name, "window") {
			window = op
		}
		if op.Name == "group aggregate" {
			agg = op
		}
	}
	if err := b.Do(10*time.Second, chromedp.Click(chromedp.CSS(fmt.Sprintf(`#graph [data-id="%d"]`, agg.ID)))); err != nil {
		t.Fatal(err)
	}
	subtasks := func(op runtime.PlanOperator) {
		t.Helper()
		b.WaitFor(op.Name+"'s subtasks", fmt.Sprintf(`(() => { const t = document.querySelector('table[data-subtasks-of="%d"]');
			return t && t.tBodies[0].rows.length === %d && Array.from(t.tBodies[0].rows).every((r, i) => r.cells[0].textContent === String(i)); })()`,
			op.ID, op.Parallelism), 5*time.Second)
		if title := evalT[string](t, b, `document.getElementById('details-title').textContent`); title != op.Name {
			t.Errorf("details of %q, want %q", title, op.Name)
		}
	}
	subtasks(agg)
	if state := evalT[string](t, b, `document.getElementById('details-body').textContent`); !strings.Contains(state, agg.State) {
		t.Errorf("the details lack the operator's state %q", agg.State)
	}
	if err := b.Do(10*time.Second, chromedp.Focus(chromedp.CSS(fmt.Sprintf(`#graph [data-id="%d"]`, window.ID))), chromedp.KeyEvent("\r")); err != nil {
		t.Fatal(err)
	}
	subtasks(window)
	b.WaitFor("the window's subtasks with rows in", fmt.Sprintf(`Array.from(document.querySelector('table[data-subtasks-of="%d"]').tBodies[0].rows).some(r => Number(r.cells[3].textContent.replaceAll(',', '')) > 0)`, window.ID), 5*time.Second)

	// The fields the server may send: each shown when it does.
	api := apiJobFields(t, s)
	if _, ok := api["checkpoints"]; ok {
		b.WaitFor("completed checkpoints in the history", `document.querySelectorAll('#checkpoints tr.cp.completed').length > 0`, 10*time.Second)
	} else {
		b.WaitFor("the hint to take checkpoints", `document.getElementById('checkpoints').textContent.includes('--checkpoint-dir')`, 5*time.Second)
	}
	if _, ok := api["restarts"]; ok {
		b.WaitFor("no restarts", `document.querySelector('#errors .summary').textContent === '0 restarts'`, 5*time.Second)
	}
	b.WaitFor("no errors", `document.querySelector('#errors .hint').textContent === 'No errors.' && !document.querySelector('#errors .hint').hidden`, 5*time.Second)
	if v, ok := api["operators"].([]any); ok && len(v) > 0 {
		if _, ok := v[0].(map[string]any)["watermark_ms"]; ok {
			b.WaitFor("the window's watermark per subtask", fmt.Sprintf(`Array.from(document.querySelector('table[data-subtasks-of="%d"]').tHead.rows[0].cells, c => c.textContent).includes('watermark')`, window.ID), 5*time.Second)
			b.WaitFor("the window's watermark lag in its box", fmt.Sprintf(`document.querySelector('#graph [data-id="%d"] .metric').textContent.includes('wm lag')`, window.ID), 5*time.Second)
		}
	}

	b.Screenshot("job-page")
	b.NoProblems()
}

// edgesCrossingBoxes lists the edges drawn across a box other than their
// two ends, sampling each path every 4 pixels.
func edgesCrossingBoxes(t *testing.T, b *browsertest.Browser) []string {
	t.Helper()
	return evalT[[]string](t, b, `(() => {
		const boxes = Array.from(document.querySelectorAll('#graph [data-operator]'), g => ({id: g.dataset.id, r: g.querySelector('.box').getBoundingClientRect()}));
		const bad = new Set();
		for (const e of document.querySelectorAll('#graph [data-edge]')) {
			const p = e.querySelector('path'), m = p.getScreenCTM(), n = p.getTotalLength();
			for (let l = 0; l <= n; l += 4) {
				const at = p.getPointAtLength(l), q = new DOMPoint(at.x, at.y).matrixTransform(m);
				for (const b of boxes) {
					if (b.id !== e.dataset.from && b.id !== e.dataset.to &&
						q.x > b.r.left + 1 && q.x < b.r.right - 1 && q.y > b.r.top + 1 && q.y < b.r.bottom - 1) {
						bad.add('edge ' + e.dataset.from + '>' + e.dataset.to + ' crosses operator ' + b.id);
					}
				}
			}
		}
		return Array.from(bad);
	})()`)
}

// selfJoinJob joins a source with an aggregate of itself: the edge from the
// source to the join spans the aggregate's columns.
const selfJoinJob = `
CREATE TABLE clicks (page_id BIGINT, user_id BIGINT, latency_ms INT)
WITH ('connector' = 'datagen', 'rows-per-second' = '500', 'fields.page_id.min' = '0', 'fields.page_id.max' = '9');
CREATE TABLE out WITH ('connector' = 'blackhole');
INSERT INTO out SELECT c.page_id, c.user_id, t.n FROM clicks c
JOIN (SELECT page_id, COUNT(*) AS n FROM clicks WHERE latency_ms > 10 GROUP BY page_id) t ON c.page_id = t.page_id;
`

func TestJobPageEdgesGoAroundTheBoxesTheySpan(t *testing.T) {
	s, j := startJob(t, selfJoinJob, Options{})
	b := browsertest.New(t, 1280, 800)
	b.Navigate(s.URL() + "job")
	b.WaitFor("a box per operator", fmt.Sprintf("document.querySelectorAll('#graph [data-operator]').length === %d", len(j.Plan.Operators)), 10*time.Second)
	if n := evalT[int](t, b, `document.querySelectorAll('#graph [data-edge][data-route="lane"]').length`); n == 0 {
		t.Error("no edge routed between the rows: the job should have one spanning columns")
	}
	if bad := edgesCrossingBoxes(t, b); len(bad) > 0 {
		t.Errorf("edges drawn across boxes: %v", bad)
	}
	b.NoProblems()
}

func TestJobPageShowsAnEndedJobWithItsLastFigures(t *testing.T) {
	s, j := runOnConsole(t, `
CREATE TABLE clicks (page_id BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '5000',
  'fields.page_id.min' = '0', 'fields.page_id.max' = '9');
CREATE TABLE views WITH ('connector' = 'blackhole');
INSERT INTO views SELECT page_id, COUNT(*) AS n FROM clicks GROUP BY page_id;`, nil)
	b := browsertest.New(t, 1280, 800)
	b.Navigate(s.URL() + "job")
	b.WaitFor("the job ended", `document.getElementById('job-state').dataset.state !== 'running' &&
		document.getElementById('job-state').dataset.state !== ''`, 10*time.Second)
	facts := evalT[string](t, b, `document.getElementById('job-facts').textContent`)
	if strings.Contains(facts, "up") {
		t.Errorf("an ended job's facts %q say it is up", facts)
	}
	if _, ok := apiJobFields(t, s)["ended_ms"]; ok && !strings.Contains(facts, "ran") {
		t.Errorf("an ended job's facts %q do not say how long it ran", facts)
	}
	src := j.Plan.Operators[0]
	if err := b.Do(10*time.Second, chromedp.Click(chromedp.CSS(fmt.Sprintf(`#graph [data-id="%d"]`, src.ID)))); err != nil {
		t.Fatal(err)
	}
	// Its subtasks' last counts: every row the source read.
	b.WaitFor("the source's 5,000 rows", fmt.Sprintf(`(() => { const t = document.querySelector('table[data-subtasks-of="%d"]');
		if (!t) return false;
		const col = Array.from(t.tHead.rows[0].cells, c => c.textContent).indexOf('rows out');
		return Array.from(t.tBodies[0].rows, r => Number(r.cells[col].textContent.replaceAll(',', ''))).reduce((a, b) => a + b, 0) === 5000; })()`, src.ID), 10*time.Second)
	b.NoProblems()
}

func TestJobPageSaysDisconnectedAndRecoversWhenTheServerComesBack(t *testing.T) {
	s, j := startJob(t, clicksJob, Options{})
	b := browsertest.New(t, 1280, 800)
	b.Navigate(s.URL() + "job")
	b.WaitFor("live", `document.getElementById('conn').textContent.startsWith('live')`, 10*time.Second)
	b.NoProblems()
	evalT[bool](t, b, `(window.testSVG = document.querySelector('#graph svg'), true)`)

	addr := s.Addr().String()
	s.Close()
	b.WaitFor("disconnected", `document.getElementById('conn').textContent.startsWith('disconnected') && document.body.classList.contains('stale')`, 10*time.Second)

	// The same address again, with the same job.
	s2, err := Start(Options{Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s2.Close() })
	ended := s2.AddJob(&Job{Name: j.Name, Plan: j.Plan, Metrics: j.Metrics})
	t.Cleanup(ended)
	b.WaitFor("live again", `document.getElementById('conn').textContent.startsWith('live') && !document.body.classList.contains('stale')`, 15*time.Second)
	if !evalT[bool](t, b, `document.querySelector('#graph svg') === window.testSVG`) {
		t.Error("the graph was drawn again after reconnecting to the same plan")
	}
}

func TestJobPageOffersEveryJobOfTheProcess(t *testing.T) {
	s, j := startJob(t, clicksJob, Options{})
	other, err := sql.Compile(throttledJob, sql.Options{File: "other.sql", Parallelism: 2, Metrics: metrics.NewSet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close(context.Background()) })
	o := &Job{Name: other.Graph.Name, Plan: other.Graph.Physical(2), Metrics: metrics.NewSet()}
	t.Cleanup(s.AddJob(o))

	b := browsertest.New(t, 1280, 800)
	b.Navigate(s.URL() + "job")
	b.WaitFor("the latest job, "+o.Name, fmt.Sprintf(`document.getElementById('job-name').textContent === %q &&
		document.querySelectorAll('#graph [data-operator]').length === %d`, o.Name, len(o.Plan.Operators)), 10*time.Second)
	b.WaitFor("a choice of two jobs", `!document.getElementById('job-pick').hidden &&
		Array.from(document.getElementById('job-select').options, o => o.value).join() === '`+j.Name+`,`+o.Name+`'`, 10*time.Second)
	evalT[bool](t, b, fmt.Sprintf(`(() => { const s = document.getElementById('job-select'); s.value = %q; s.dispatchEvent(new Event('change')); return true; })()`, j.Name))
	b.WaitFor("the chosen job, "+j.Name, fmt.Sprintf(`location.search === '?name=%s' && document.getElementById('job-name').textContent === %q &&
		document.querySelectorAll('#graph [data-operator]').length === %d`, j.Name, j.Name, len(j.Plan.Operators)), 10*time.Second)
	b.NoProblems()
}

// The health strip links to /job#errors: the page is there once the graph
// above is drawn.
func TestJobPageLinkToItsErrorsShowsThem(t *testing.T) {
	s, j := startJob(t, clicksJob, Options{})
	b := browsertest.New(t, 1280, 500)
	b.Navigate(s.URL() + "job#errors")
	b.WaitFor("a box per operator", fmt.Sprintf("document.querySelectorAll('#graph [data-operator]').length === %d", len(j.Plan.Operators)), 10*time.Second)
	b.WaitFor("the errors in view", `(() => { const r = document.getElementById('errors').getBoundingClientRect();
		return r.top >= 0 && r.top < innerHeight - 40 && location.hash === '#errors'; })()`, 5*time.Second)
	b.NoProblems()
}
