package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/chzyer/readline"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/internal/suggest"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sql"
	"github.com/sluicehq/sluice/sql/catalog"
)

const sqlShellAbout = `An interactive SQL shell (statements end with ';'), or, with standard input
not a terminal, a runner of the statements piped in: sluice sql < job.sql.

CREATE TABLE / CREATE TOPIC / SET define the session's tables and options;
a bare SELECT shows its result (a live table on a terminal; rows as they
come otherwise, with an op column -- +I, -U, +U, -D -- for an updating
result); INSERT INTO ... SELECT runs as a job in the background (SHOW JOBS,
STOP JOB n). Type HELP; for the shell's statements.

Ctrl-C cancels the running SELECT (at the prompt, it clears the line);
Ctrl-D or QUIT leaves (a terminal session stops its jobs; piped input waits
for its jobs to end). Exit status 1 when a piped statement failed.`

const sqlShellHelp = `Statements end with ';' and may span lines.
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

// runSQLShell is sluice sql.
func runSQLShell(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("sql", flag.ContinueOnError)
	par := fs.Int("parallelism", 0, "`N` subtasks per operator (0: the number of CPUs)")
	catalogDir := fs.String("catalog", "", "keep tables in folder `DIR`, for later sessions and jobs (default: in memory)")
	storeDir := fs.String("store-dir", "", "run an embedded stream store over folder `DIR`: 'store' tables without 'endpoint' use it (default: a temporary folder, removed at exit)")
	storeListen := fs.String("store-listen", "", "also serve the embedded store's Kinesis API at loopback address `ADDR`, e.g. 127.0.0.1:4567")
	stateTTL := fs.String("state-ttl", "", "drop the state of a key not updated for `D` (processing time), e.g. '1 h' or 30m, over SET 'table.exec.state.ttl'")
	if _, err := parseFlags(fs, command{Use: "sql [flags]", About: sqlShellAbout, MaxArgs: 0}, args); err != nil {
		return err
	}
	if *par < 0 {
		return fmt.Errorf("--parallelism %d: want 0 (the number of CPUs) or more", *par)
	}
	if *par == 0 {
		*par = defaultParallelism()
	}
	ttl, err := sqlOpts{stateTTL: stateTTL}.ttl()
	if err != nil {
		return err
	}
	cat := catalog.New()
	if *catalogDir != "" {
		if err := os.MkdirAll(*catalogDir, 0o755); err != nil {
			return fmt.Errorf("--catalog %s: %w", *catalogDir, err)
		}
		if cat, err = catalog.Open(*catalogDir); err != nil {
			return err
		}
	}
	closeStore, err := openEmbeddedOrTemp(*storeDir, *storeListen)
	if err != nil {
		return err
	}
	defer closeStore()

	sh := &shell{par: *par, flagPar: *par, out: os.Stdout, errw: os.Stderr,
		interactive: readline.IsTerminal(int(os.Stdin.Fd())),
		tty:         readline.IsTerminal(int(os.Stdout.Fd())),
		quitting:    make(chan struct{})}
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
		})
		if err != nil {
			return err
		}
		defer rl.Close()
		sh.note = rl.Stdout() // job notices come while the prompt waits
		in = &termReader{rl: rl}
		fmt.Fprintf(sh.out, "sluice %s SQL shell: statements end with ';'; HELP; lists the shell's statements, Ctrl-D leaves.\n", version)
	} else {
		in = newPipeReader(os.Stdin)
	}
	sh.in = in
	if sh.note == nil {
		sh.note = sh.errw // piped: standard output carries results only
	}
	sh.sess, err = sql.NewSession(sql.Options{Parallelism: *par, Catalog: cat, Out: sh.out, StateTTL: ttl, Collect: sh.collect})
	if err != nil {
		return err
	}
	go sh.watchSignals(sigs, stopJobs)

	sh.loop()

	// Leaving: a terminal session stops its jobs, piped input lets them end.
	if n := sh.running(); n > 0 {
		if sh.interactive {
			fmt.Fprintf(sh.errw, "stopping %d running job(s)\n", n)
			stopJobs()
		}
		sh.wg.Wait()
	}
	dctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := sh.sess.Close(dctx); err != nil {
		fmt.Fprintln(sh.errw, "sluice:", err)
	}
	sh.mu.Lock()
	failed := sh.failed
	sh.mu.Unlock()
	if !sh.interactive && failed > 0 {
		return fmt.Errorf("%d statement(s) failed", failed)
	}
	return nil
}

// historyFile is where the shell keeps its history: under $XDG_STATE_HOME
// when set, else ~/.sluice_history ("" when there is no home).
func historyFile() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		dir := filepath.Join(d, "sluice")
		if os.MkdirAll(dir, 0o700) == nil {
			return filepath.Join(dir, "history")
		}
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".sluice_history")
}

// lineReader gives the shell its input, a line at a time.
type lineReader interface {
	// readLine returns the next line without its newline; errInterrupt
	// for Ctrl-C at the prompt, io.EOF at the end.
	readLine(continued bool) (string, error)
	// save records a statement in the history.
	save(stmt string)
	close()
}

var errInterrupt = errors.New("interrupt")

type termReader struct{ rl *readline.Instance }

func (t *termReader) readLine(continued bool) (string, error) {
	if continued {
		t.rl.SetPrompt("     -> ")
	} else {
		t.rl.SetPrompt("sluice> ")
	}
	line, err := t.rl.Readline()
	if errors.Is(err, readline.ErrInterrupt) {
		return "", errInterrupt
	}
	return line, err
}

func (t *termReader) save(stmt string) {
	t.rl.SaveHistory(strings.Join(strings.Fields(stmt), " "))
}

func (t *termReader) close() { t.rl.Close() }

// pipeReader reads piped input on a goroutine of its own, so that a
// signal ends the shell while a read blocks (closing a blocking pipe does
// not interrupt a read).
type pipeReader struct {
	lines chan lineOrErr
	stop  chan struct{}
	once  sync.Once
}

type lineOrErr struct {
	line string
	err  error
}

func newPipeReader(r io.Reader) *pipeReader {
	p := &pipeReader{lines: make(chan lineOrErr), stop: make(chan struct{})}
	go func() { // ends at EOF, or blocked on a read when the process exits
		br := bufio.NewReader(r)
		for {
			line, err := br.ReadString('\n')
			if err == io.EOF && line != "" {
				err = nil
			}
			select {
			case p.lines <- lineOrErr{strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"), err}:
			case <-p.stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return p
}

func (p *pipeReader) readLine(bool) (string, error) {
	select {
	case l := <-p.lines:
		return l.line, l.err
	case <-p.stop:
		return "", io.EOF
	}
}

func (p *pipeReader) save(string) {}

func (p *pipeReader) close() { p.once.Do(func() { close(p.stop) }) }

// shell is one sluice sql session.
type shell struct {
	ctx         context.Context // not cancelled by Ctrl-C
	jobsCtx     context.Context // cancelled when the shell stops its jobs
	sess        *sql.Session
	par         int // SET 'parallelism', else flagPar
	flagPar     int // --parallelism
	in          lineReader
	out, errw   io.Writer
	note        io.Writer // job notices: through readline on a terminal, else errw
	interactive bool      // standard input is a terminal
	tty         bool      // standard output is a terminal: live tables

	mu       sync.Mutex
	fgCancel context.CancelFunc // of the running SELECT
	jobs     []*shellJob
	wg       sync.WaitGroup
	quitting chan struct{}
	quitOnce sync.Once
	failed   int

	// pending is the result of the SELECT being compiled (set by collect).
	pending *pendingResult
}

type pendingResult struct {
	schema   *runtime.Schema
	updating bool
	to       result
}

// shellJob is an INSERT running in the background.
type shellJob struct {
	id      int
	text    string
	started time.Time
	cancel  context.CancelFunc
	done    chan struct{}
	err     error
	ended   time.Time
}

// watchSignals answers Ctrl-C (SIGINT) by cancelling the running SELECT;
// with none, piped input stops (and its jobs). SIGTERM ends the shell.
func (sh *shell) watchSignals(sigs <-chan os.Signal, stopJobs context.CancelFunc) {
	for {
		var sig os.Signal
		select {
		case sig = <-sigs:
		case <-sh.quitting:
			return
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
			return
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
)

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
	switch {
	case words[0] == "QUIT" || words[0] == "EXIT":
		return true
	case words[0] == "HELP":
		fmt.Fprint(sh.out, sqlShellHelp)
	case two == "SHOW CONNECTORS" && len(words) == 2:
		sh.showConnectors()
	case two == "SHOW JOBS" && len(words) == 2:
		sh.showJobs()
	case stopJobRE.MatchString(text):
		id, _ := strconv.Atoi(stopJobRE.FindStringSubmatch(text)[1])
		sh.stopJob(p, id)
	case setParRE.MatchString(text):
		v := setParRE.FindStringSubmatch(text)[1]
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n <= 0 {
			sh.fail(p, fmt.Errorf("SET 'parallelism': %q is not a positive number of subtasks", v))
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
	pr := &pendingResult{schema: schema, updating: updating}
	if sh.tty {
		pr.to = newLiveTable(schema.Names(), updating)
	} else {
		pr.to = &lazyPrinter{w: os.Stdout, cols: schema.Names(), updating: updating}
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
	go func() { done <- runtime.Run(qctx, plan.Graph, runtime.Options{Parallelism: par, Log: logf}) }()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var view *tableView
	if t, ok := pr.to.(*liveTable); ok {
		view = &tableView{t: t, w: os.Stdout, start: start, size: func() (int, int) {
			w, h, _ := readline.GetSize(int(os.Stdout.Fd()))
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

// lazyPrinter is a rowPrinter made at the first row (or at the end), so
// that a query failing at its start prints no column names.
type lazyPrinter struct {
	mu       sync.Mutex
	w        io.Writer
	cols     []string
	updating bool
	p        *rowPrinter
}

func (l *lazyPrinter) start() *rowPrinter {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.p == nil {
		l.p = newRowPrinter(l.w, l.cols, l.updating)
	}
	return l.p
}

func (l *lazyPrinter) add(kind runtime.RowKind, vals []string) { l.start().add(kind, vals) }

func (l *lazyPrinter) started() *rowPrinter {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.p
}

func (l *lazyPrinter) flush() {
	if p := l.started(); p != nil {
		p.flush()
	}
}

func (l *lazyPrinter) count() int64 {
	if p := l.started(); p != nil {
		return p.count()
	}
	return 0
}

// startJob runs an INSERT in the background.
func (sh *shell) startJob(p piece, plan *sql.Plan) {
	ctx, cancel := context.WithCancel(sh.jobsCtx)
	sh.mu.Lock()
	j := &shellJob{id: len(sh.jobs) + 1, text: summary(p.text), started: time.Now(), cancel: cancel, done: make(chan struct{})}
	sh.jobs = append(sh.jobs, j)
	sh.mu.Unlock()
	fmt.Fprintf(sh.note, "[job %d] submitted: %s\n", j.id, j.text)
	sh.wg.Add(1)
	par := sh.par
	go func() {
		defer sh.wg.Done()
		defer cancel()
		err := runtime.Run(ctx, plan.Graph, runtime.Options{Parallelism: par, Log: logf})
		sh.mu.Lock()
		j.err, j.ended = err, time.Now()
		sh.mu.Unlock()
		close(j.done)
		switch {
		case err == nil:
			fmt.Fprintf(sh.note, "[job %d] finished in %.1f s\n", j.id, j.ended.Sub(j.started).Seconds())
		case ctx.Err() != nil && errors.Is(err, context.Canceled):
			fmt.Fprintf(sh.note, "[job %d] stopped\n", j.id)
		default:
			sh.mu.Lock()
			sh.failed++
			sh.mu.Unlock()
			fmt.Fprintf(sh.errw, "[job %d] failed: %v\n", j.id, err)
		}
	}()
}

// summary is a statement on one line, cut to 70 characters.
func summary(text string) string {
	s := strings.Join(strings.Fields(stripComments(text)), " ")
	if r := []rune(s); len(r) > 70 {
		s = string(r[:69]) + "…"
	}
	return s
}

func (sh *shell) running() int {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	n := 0
	for _, j := range sh.jobs {
		if j.ended.IsZero() {
			n++
		}
	}
	return n
}

func (sh *shell) showJobs() {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	tw := tabwriter.NewWriter(sh.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tSTATE\tTIME\tSTATEMENT")
	for _, j := range sh.jobs {
		state, d := "running", time.Since(j.started)
		if !j.ended.IsZero() {
			d = j.ended.Sub(j.started)
			state = "finished"
			if j.err != nil {
				state = "stopped"
				if !errors.Is(j.err, context.Canceled) {
					state = "failed: " + j.err.Error()
				}
			}
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", j.id, state, d.Round(100*time.Millisecond), j.text)
	}
	tw.Flush()
}

func (sh *shell) stopJob(p piece, id int) {
	sh.mu.Lock()
	var j *shellJob
	if id >= 1 && id <= len(sh.jobs) {
		j = sh.jobs[id-1]
	}
	sh.mu.Unlock()
	if j == nil {
		sh.fail(p, fmt.Errorf("no job %d (SHOW JOBS lists them)", id))
		return
	}
	j.cancel()
	<-j.done
}

func (sh *shell) showConnectors() {
	tw := tabwriter.NewWriter(sh.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CONNECTOR\tREADS\tWRITES")
	for _, name := range connectors.Names() {
		f, _ := connectors.Lookup(name)
		_, src := f.(connectors.Source)
		_, snk := f.(connectors.Sink)
		fmt.Fprintf(tw, "%s\t%s\t%s\n", name, yesNo(src), yesNo(snk))
	}
	tw.Flush()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
