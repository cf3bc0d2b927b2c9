// Package shell is Sluice's SQL shell (sluice sql), in the manner of Flink's
// SQL client: statements typed at a prompt or piped in run against a
// session (sql.Session) — DDL and SET accumulate, a bare SELECT shows its
// result live, an INSERT runs as a background job.
package shell

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/chzyer/readline"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/internal/suggest"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sql"
	"github.com/sluicehq/sluice/sql/catalog"
)

// About describes the shell, for its command's help.
const About = `An interactive SQL shell (statements end with ';'), or, with standard input
not a terminal, a runner of the statements piped in: sluice sql < job.sql.

CREATE TABLE / CREATE TOPIC / SET define the session's tables and options;
a bare SELECT shows its result (a live table on a terminal; rows as they
come otherwise, with an op column -- +I, -U, +U, -D -- for an updating
result); INSERT INTO ... SELECT runs as a job in the background (SHOW JOBS,
STOP JOB n). Type HELP; for the shell's statements.

Ctrl-C cancels the running SELECT (at the prompt, it clears the line);
Ctrl-D or QUIT leaves (a terminal session stops its jobs; piped input waits
for its jobs to end). Exit status 1 when a piped statement failed.`

// help answers HELP.
const help = `Statements end with ';' and may span lines.
  CREATE TABLE t (...) WITH (...)     define a table (SHOW CONNECTORS lists connectors)
  DROP TABLE t                        remove a table
  CREATE TOPIC / CREATE SUBSCRIPTION  define a topic and its subscriptions
  SELECT ... FROM t ...               show the result, live (Ctrl-C cancels)
  INSERT INTO t SELECT ...            run a job in the background
  SHOW TABLES | DESCRIBE t            the session's tables, one table's columns and options
  SHOW CONNECTORS                     the connectors, and whether they read or write
  SHOW JOBS | STOP JOB n              the background jobs; stop one
  EXPLAIN SELECT ... | EXPLAIN INSERT ...   the physical plan
  SET 'key' = 'value' | SET | RESET ['key']  session options (SET alone lists them),
                                      e.g. SET 'table.exec.state.ttl' = '1 h'; SET 'parallelism' = '4';
  HELP | QUIT | EXIT
`

// Options configure Run.
type Options struct {
	// Parallelism is the default parallelism of queries (> 0); SET
	// 'parallelism' changes it for the statements after.
	Parallelism int
	// Catalog holds the session's tables (nil: a fresh in-memory one).
	Catalog *catalog.Catalog
	// StateTTL, when positive, is the state TTL of every query, over SET
	// 'table.exec.state.ttl'.
	StateTTL time.Duration
	// Banner is printed when the shell starts on a terminal.
	Banner string
	// Log receives the log lines of the queries and jobs the shell runs
	// (nil: Err).
	Log func(format string, args ...any)
	// In, Out and Err are the shell's input, output and where errors go
	// (nil: the process's standard input, output and error). An In that
	// is a terminal gets a prompt with line editing; an Out that is one,
	// live tables.
	In       io.Reader
	Out, Err io.Writer
	// AtOnce, when set, is called with a signal (SIGINT or SIGTERM) that
	// comes while the shell is already ending — stopping its jobs or
	// waiting for them, or delivering what its topics hold — to stop at
	// once (sluice sql exits). Nil: such a signal is ignored.
	AtOnce func(os.Signal)
	// Started, when set, is told of each background INSERT job as it
	// starts — its graph (named "job N"), parallelism and metrics set —
	// and the function it returns of how the job's run ended.
	Started func(g *runtime.Graph, parallelism int, set *metrics.Set) (ended func(error))
}

// Run runs a shell session until EOF, QUIT or SIGTERM. Ctrl-C (SIGINT) cancels the running SELECT;
// with piped input and no SELECT running, it stops the session's jobs and
// ends the session. It returns an error when a statement of piped input
// failed (each error is printed as it happens).
func Run(ctx context.Context, o Options) error {
	if o.Parallelism <= 0 {
		return errors.New("shell: Options.Parallelism must be positive")
	}
	if o.In == nil {
		o.In = os.Stdin
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.Err == nil {
		o.Err = os.Stderr
	}
	if o.Log == nil {
		o.Log = func(format string, args ...any) { fmt.Fprintf(o.Err, "sluice: "+format+"\n", args...) }
	}
	par := o.Parallelism
	inTerm, interactive := terminal(o.In)
	outTerm, tty := terminal(o.Out)
	// Jobs write notices while the shell prints: one lock for both.
	var wmu sync.Mutex
	o.Out, o.Err = &lockedWriter{mu: &wmu, w: o.Out}, &lockedWriter{mu: &wmu, w: o.Err}
	sh := &shell{par: par, flagPar: par, logf: o.Log, out: o.Out, errw: o.Err,
		interactive: interactive, tty: tty, outTerm: outTerm, quitting: make(chan struct{}), atOnce: o.AtOnce, started: o.Started}
	// Ctrl-C is the shell's: it cancels the running query, not the shell;
	// SIGTERM ends the shell.
	sh.ctx = context.WithoutCancel(ctx)
	var stopJobs context.CancelFunc
	sh.jobsCtx, stopJobs = context.WithCancel(sh.ctx)
	defer stopJobs()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)

	var in lineReader
	if sh.interactive {
		rl, err := readline.NewEx(&readline.Config{
			Prompt:                 "sluice> ",
			HistoryFile:            historyFile(),
			DisableAutoSaveHistory: true,
			HistorySearchFold:      true,
			InterruptPrompt:        "^C",
			EOFPrompt:              "exit",
			Stdin:                  readline.NewCancelableStdin(inTerm),
			Stdout:                 o.Out,
			Stderr:                 o.Err,
		})
		if err != nil {
			return err
		}
		defer rl.Close()
		sh.note = rl.Stdout() // job notices come while the prompt waits
		in = &termReader{rl: rl}
		if o.Banner != "" {
			fmt.Fprintln(sh.out, o.Banner)
		}
	} else {
		in = newPipeReader(o.In)
	}
	sh.in = in
	if sh.note == nil {
		sh.note = sh.errw // piped: standard output carries results only
	}
	var err error
	sh.sess, err = sql.NewSession(sql.Options{Parallelism: par, Catalog: o.Catalog, Out: sh.out, StateTTL: o.StateTTL, Collect: sh.collect})
	if err != nil {
		return err
	}
	watched, endWatch := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watched)
		sh.watchSignals(sigs, stopJobs, endWatch)
	}()

	sh.loop()

	// Leaving: a terminal session stops its jobs, piped input lets them end.
	if sh.interactive {
		sh.quit() // a signal from now on stops at once
	}
	if n := sh.running(); n > 0 {
		if sh.interactive {
			fmt.Fprintf(sh.errw, "stopping %d running job(s)\n", n)
			stopJobs()
		}
		sh.wg.Wait()
	}
	sh.quit()
	dctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := sh.sess.Close(dctx); err != nil {
		fmt.Fprintln(sh.errw, "sluice:", err)
	}
	close(endWatch)
	<-watched
	sh.mu.Lock()
	failed := sh.failed
	sh.mu.Unlock()
	if !sh.interactive && failed > 0 {
		return fmt.Errorf("%d statement(s) failed", failed)
	}
	return nil
}

// shell is one sluice sql session.
type shell struct {
	ctx         context.Context // not cancelled by Ctrl-C
	jobsCtx     context.Context // cancelled when the shell stops its jobs
	sess        *sql.Session
	par         int // SET 'parallelism', else flagPar
	flagPar     int // Options.Parallelism
	logf        func(format string, args ...any)
	in          lineReader
	out, errw   io.Writer
	note        io.Writer // job notices: through readline on a terminal, else errw
	interactive bool      // standard input is a terminal
	tty         bool      // standard output is a terminal: live tables
	outTerm     *os.File  // standard output, when a terminal

	mu       sync.Mutex
	fgCancel context.CancelFunc // of the running SELECT
	jobs     []*shellJob
	wg       sync.WaitGroup
	quitting chan struct{}
	quitOnce sync.Once
	atOnce   func(os.Signal)                                     // Options.AtOnce
	started  func(*runtime.Graph, int, *metrics.Set) func(error) // Options.Started
	failed   int

	// pending is the result of the SELECT being compiled (set by collect).
	pending *pendingResult
}

// pendingResult is where the rows of a SELECT go.
type pendingResult struct {
	to result
}

// watchSignals answers Ctrl-C (SIGINT) by cancelling the running SELECT;
// with none, piped input stops (and its jobs). SIGTERM ends the shell. A
// signal once the shell is ending goes to Options.AtOnce. It returns when
// end is closed.
func (sh *shell) watchSignals(sigs <-chan os.Signal, stopJobs context.CancelFunc, end <-chan struct{}) {
	for {
		var sig os.Signal
		select {
		case sig = <-sigs:
		case <-end:
			return
		}
		if sh.stopped() {
			if sh.atOnce != nil {
				sh.atOnce(sig)
			}
			continue
		}
		sh.mu.Lock()
		cancel := sh.fgCancel
		sh.mu.Unlock()
		if cancel != nil {
			cancel()
			if sig != syscall.SIGTERM {
				continue
			}
		}
		if sig == syscall.SIGTERM || !sh.interactive {
			stopJobs()
			sh.quit()
		}
	}
}

// quit makes the input loop end.
func (sh *shell) quit() {
	sh.quitOnce.Do(func() {
		close(sh.quitting)
		sh.in.close()
	})
}

func (sh *shell) stopped() bool {
	select {
	case <-sh.quitting:
		return true
	default:
		return false
	}
}

// loop reads and runs statements until EOF, QUIT or a signal.
func (sh *shell) loop() {
	var sp splitter
	for !sh.stopped() {
		line, err := sh.in.readLine(sp.pending())
		if errors.Is(err, errInterrupt) {
			sp.reset()
			continue
		}
		if err != nil {
			if sp.pending() && !sh.interactive && !sh.stopped() {
				// The last statement may lack its ';'.
				sh.runPieces(sp.feed(";"), &sp)
			}
			return
		}
		if !sp.pending() && isBareCommand(line) {
			line += ";" // QUIT, EXIT and HELP need no ';'
		}
		if sh.runPieces(sp.feed(line), &sp) {
			return
		}
		if !sp.pending() && sh.interactive {
			sp.cur = 0 // a terminal numbers lines per statement
		}
	}
}

func (sh *shell) runPieces(ps []piece, sp *splitter) (quit bool) {
	for _, p := range ps {
		sh.in.save(p.text)
		if sh.exec(p) {
			return true
		}
		if sh.stopped() {
			return true
		}
	}
	return false
}

var bareCommand = regexp.MustCompile(`(?i)^\s*(quit|exit|help)\s*$`)

func isBareCommand(line string) bool { return bareCommand.MatchString(line) }

var (
	explainRE = regexp.MustCompile(`(?is)^(\s*)(explain(\s+plan\s+for)?)\s`)
	resetRE   = regexp.MustCompile(`(?is)^\s*reset(\s+'([^']*)')?\s*$`)
	setAllRE  = regexp.MustCompile(`(?is)^\s*set\s*$`)
	setParRE  = regexp.MustCompile(`(?is)^\s*set\s+'parallelism'\s*=\s*'([^']*)'\s*$`)
	stopJobRE = regexp.MustCompile(`(?is)^\s*stop\s+job\s+'?(\d+)'?\s*$`)
	setKeyRE  = regexp.MustCompile(`(?is)^\s*(set|reset)\s+'([^']*)'`)
)

// checkKey refuses SET or RESET of an option neither the shell
// ('parallelism') nor the session knows, naming the nearest of them all.
func (sh *shell) checkKey(p piece) error {
	m := setKeyRE.FindStringSubmatchIndex(p.text)
	if m == nil {
		return nil
	}
	verb, key := strings.ToUpper(p.text[m[2]:m[3]]), p.text[m[4]:m[5]]
	keys := append([]string{"parallelism"}, sql.SettingKeys()...)
	for _, k := range keys {
		if strings.EqualFold(k, key) {
			return nil
		}
	}
	line, col := sh.position(p, m[4]-1)
	msg := fmt.Sprintf("%s:%d:%d: %s: unknown option '%s'", sh.file(), line, col, verb, key)
	if near := suggest.Nearest(key, keys); near != "" {
		msg += fmt.Sprintf(" (did you mean '%s'?)", near)
	}
	slices.Sort(keys)
	return errors.New(msg + "; options: " + strings.Join(keys, ", "))
}

// position is the line and column of byte off of p's text.
func (sh *shell) position(p piece, off int) (line, col int) {
	line, col = p.line, p.col
	before := p.text[:off]
	if nl := strings.LastIndexByte(before, '\n'); nl >= 0 {
		return line + strings.Count(before, "\n"), off - nl
	}
	return line, col + off
}

// exec runs one statement; it reports whether the shell is to end.
func (sh *shell) exec(p piece) (quit bool) {
	text := stripComments(p.text)
	words := strings.Fields(strings.ToUpper(text))
	if len(words) == 0 {
		return false
	}
	two := words[0]
	if len(words) > 1 {
		two += " " + words[1]
	}
	keyErr := sh.checkKey(p) // of SET or RESET 'key'
	switch {
	case words[0] == "QUIT" || words[0] == "EXIT":
		return true
	case words[0] == "HELP":
		fmt.Fprint(sh.out, help)
	case two == "SHOW CONNECTORS" && len(words) == 2:
		sh.showConnectors()
	case two == "SHOW JOBS" && len(words) == 2:
		sh.showJobs()
	case keyErr != nil:
		sh.fail(p, keyErr)
	case stopJobRE.MatchString(text):
		id, _ := strconv.Atoi(stopJobRE.FindStringSubmatch(text)[1])
		sh.stopJob(p, id)
	case words[0] == "STOP":
		sh.fail(p, fmt.Errorf("%s:%d:%d: STOP JOB wants a job's number, e.g. STOP JOB 1 (SHOW JOBS lists them)", sh.file(), p.line, p.col))
	case setParRE.MatchString(text):
		v := setParRE.FindStringSubmatch(text)[1]
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n <= 0 || n > runtime.MaxKeyGroups {
			sh.fail(p, fmt.Errorf("SET 'parallelism': %q is not a number of subtasks from 1 to %d (the key groups)", v, runtime.MaxKeyGroups))
			return false
		}
		sh.setParallelism(n)
		sh.ok()
	case resetRE.MatchString(text):
		key := resetRE.FindStringSubmatch(text)[2]
		var err error
		if key == "" || !strings.EqualFold(key, "parallelism") {
			err = sh.sess.Reset(key)
		}
		if err != nil {
			sh.fail(p, fmt.Errorf("%v, parallelism", err))
			return false
		}
		if key == "" || strings.EqualFold(key, "parallelism") {
			sh.setParallelism(sh.flagPar)
		}
		sh.ok()
	case setAllRE.MatchString(text):
		if sh.par != sh.flagPar {
			fmt.Fprintf(sh.out, "'parallelism' = '%d'\n", sh.par)
		}
		for _, s := range sh.sess.Settings() {
			fmt.Fprintln(sh.out, s)
		}
		fmt.Fprintf(sh.out, "(options: %s, parallelism)\n", strings.Join(sql.SettingKeys(), ", "))
	case explainRE.MatchString(p.text):
		// Blank the keyword out, so that positions stay those of the input.
		m := explainRE.FindStringSubmatchIndex(p.text)
		q := p
		q.text = p.text[:m[4]] + blank(p.text[m[4]:m[5]]) + p.text[m[5]:]
		plan, err := sh.compile(q)
		sh.pending = nil
		if err != nil {
			sh.fail(p, err)
			return false
		}
		if plan.Graph == nil {
			sh.fail(p, fmt.Errorf("%s:%d:%d: EXPLAIN wants a SELECT or an INSERT", sh.file(), p.line, p.col))
			return false
		}
		fmt.Fprint(sh.out, plan.Explain())
	default:
		if err := sh.checkVerb(p, words); err != nil {
			sh.fail(p, err)
			return false
		}
		sh.run(p)
	}
	return false
}

// verbs are the words a statement may start with.
var verbs = []string{"CREATE", "DROP", "SHOW", "DESCRIBE", "DESC", "SET", "RESET", "INSERT", "SELECT", "WITH",
	"EXPLAIN", "HELP", "QUIT", "EXIT", "STOP"}

var (
	showWhat    = []string{"TABLES", "CONNECTORS", "JOBS"}
	leadingWord = regexp.MustCompile(`^[A-Z_]+`)
)

// checkVerb refuses a statement the shell does not know by its first
// words, naming the nearest (the SQL parser knows only its own).
func (sh *shell) checkVerb(p piece, words []string) error {
	at := func(word, msg, near, tail string) error {
		line, col := p.line, p.col
		if loc := regexp.MustCompile(`(?i)\b` + regexp.QuoteMeta(word) + `\b`).FindStringIndex(p.text); loc != nil {
			before := p.text[:loc[0]]
			if nl := strings.LastIndexByte(before, '\n'); nl >= 0 {
				line += strings.Count(before, "\n")
				col = loc[0] - nl
			} else {
				col += loc[0]
			}
		}
		if near != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", near)
		}
		return fmt.Errorf("%s:%d:%d: %s%s", sh.file(), line, col, msg, tail)
	}
	first := leadingWord.FindString(words[0])
	if first == "" {
		return nil // e.g. "(": the parser says what it expects
	}
	if !slices.Contains(verbs, first) {
		return at(first, "unknown statement "+first, suggest.Nearest(first, verbs), "; HELP; lists the statements")
	}
	if first != "SHOW" {
		return nil
	}
	if len(words) < 2 || first != words[0] {
		return at("SHOW", "SHOW what?", "", " SHOW TABLES, SHOW CONNECTORS or SHOW JOBS")
	}
	if what := leadingWord.FindString(words[1]); !slices.Contains(showWhat, what) || what != words[1] {
		near := suggest.Nearest(what, showWhat)
		if near != "" {
			near = "SHOW " + near
		}
		return at(words[1], "unknown SHOW "+words[1], near, "; say SHOW TABLES, SHOW CONNECTORS or SHOW JOBS")
	}
	return nil
}

// setParallelism makes n the parallelism of the statements after.
func (sh *shell) setParallelism(n int) {
	sh.par = n
	sh.sess.SetParallelism(n)
}

// blank replaces every character of s but line ends with a space.
func blank(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' {
			return r
		}
		return ' '
	}, s)
}

func (sh *shell) file() string { return "<stdin>" }

func (sh *shell) compile(p piece) (*sql.Plan, error) {
	sh.pending = nil
	plan, err := sh.sess.Compile(sh.file(), p.src())
	if err != nil {
		return nil, err
	}
	for _, w := range plan.Warnings {
		fmt.Fprintln(sh.errw, w)
	}
	return plan, nil
}

// collect is the session's Collect: it makes the result of a bare SELECT.
func (sh *shell) collect(schema *runtime.Schema, updating bool) func() runtime.Operator {
	pr := &pendingResult{}
	if sh.tty {
		pr.to = newLiveTable(schema.Names(), updating)
	} else {
		pr.to = &lazyPrinter{w: sh.out, cols: schema.Names(), updating: updating}
	}
	sh.pending = pr
	return newCollect(pr.to)
}

func (sh *shell) fail(p piece, err error) {
	sh.mu.Lock()
	sh.failed++
	sh.mu.Unlock()
	msg := err.Error()
	var se *sql.Error
	if !errors.As(err, &se) && !strings.HasPrefix(msg, sh.file()+":") {
		msg = fmt.Sprintf("%s:%d:%d: %s", sh.file(), p.line, p.col, msg)
	}
	fmt.Fprintln(sh.errw, "error:", msg)
}

func (sh *shell) ok() {
	if sh.interactive {
		fmt.Fprintln(sh.out, "OK")
	}
}

// run compiles a statement and runs what it plans: a SELECT in the
// foreground, an INSERT as a background job.
func (sh *shell) run(p piece) {
	plan, err := sh.compile(p)
	if err != nil {
		sh.fail(p, err)
		return
	}
	if plan.Graph == nil {
		sh.ok() // DDL, SET, SHOW TABLES, DESCRIBE
		return
	}
	if pr := sh.pending; pr != nil {
		sh.pending = nil
		sh.runSelect(p, plan, pr)
		return
	}
	sh.startJob(p, plan)
}

// runSelect runs a bare SELECT until it ends or Ctrl-C.
func (sh *shell) runSelect(p piece, plan *sql.Plan, pr *pendingResult) {
	qctx, cancel := context.WithCancel(sh.ctx)
	defer cancel()
	sh.mu.Lock()
	sh.fgCancel = cancel
	sh.mu.Unlock()
	defer func() {
		sh.mu.Lock()
		sh.fgCancel = nil
		sh.mu.Unlock()
	}()
	start := time.Now()
	done := make(chan error, 1)
	par := sh.par
	go func() { done <- runtime.Run(qctx, plan.Graph, runtime.Options{Parallelism: par, Log: sh.logf}) }()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var view *tableView
	if t, ok := pr.to.(*liveTable); ok {
		view = &tableView{t: t, w: sh.out, start: start, size: func() (int, int) {
			w, h, _ := readline.GetSize(int(sh.outTerm.Fd()))
			return w, h
		}}
		view.draw("running · Ctrl-C cancels", time.Now())
	}
	var err error
wait:
	for {
		select {
		case err = <-done:
			break wait
		case now := <-tick.C:
			if view != nil {
				view.draw("running · Ctrl-C cancels", now)
			} else {
				pr.to.(*lazyPrinter).flush()
			}
		}
	}
	cancelled := qctx.Err() != nil
	if cancelled && errors.Is(err, context.Canceled) {
		err = nil
	}
	state := "finished"
	switch {
	case err != nil:
		state = "failed"
	case cancelled:
		state = "cancelled"
	}
	if view != nil {
		view.draw(state, time.Now())
	} else {
		lp := pr.to.(*lazyPrinter)
		lp.start() // the column names, also for no rows
		lp.flush()
		if cancelled {
			fmt.Fprintf(sh.errw, "query cancelled after %d rows (%.1f s)\n", lp.count(), time.Since(start).Seconds())
		}
	}
	if err != nil {
		sh.fail(p, err)
	}
}

func (sh *shell) showConnectors() {
	var table bytes.Buffer // written at once, so a reader sees whole rows
	tw := tabwriter.NewWriter(&table, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CONNECTOR\tREADS\tWRITES")
	for _, name := range connectors.Names() {
		f, _ := connectors.Lookup(name)
		_, src := f.(connectors.Source)
		_, snk := f.(connectors.Sink)
		fmt.Fprintf(tw, "%s\t%s\t%s\n", name, yesNo(src), yesNo(snk))
	}
	tw.Flush()
	sh.out.Write(table.Bytes())
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// terminal returns x as a file when it is a terminal.
func terminal(x any) (*os.File, bool) {
	f, ok := x.(*os.File)
	if !ok || !readline.IsTerminal(int(f.Fd())) {
		return nil, false
	}
	return f, true
}

// lockedWriter serialises the writes of goroutines to w.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
