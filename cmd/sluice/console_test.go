package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// uiJob is a job file that runs until stopped, at 2,000 rows/s.
const uiJob = `
CREATE TABLE src (k INT, v BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '2000',
  'fields.k.min' = '1', 'fields.k.max' = '10');
CREATE TABLE sink (k INT, n BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO sink SELECT k, COUNT(*) AS n FROM src GROUP BY k;
`

// uiEnv is the environment of the tests' processes with env added, and
// without SLUICE_UI and SLUICE_UI_TOKEN (TestMain sets SLUICE_UI=off for
// the other tests) unless env sets them.
func uiEnv(env ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, envUI+"=") && !strings.HasPrefix(kv, envUIToken+"=") {
			out = append(out, kv)
		}
	}
	return append(out, env...)
}

// uiRun is a running sluice command of a console test.
type uiRun struct {
	cmd   *exec.Cmd
	first string        // the first line of its standard error
	lines chan string   // the lines after it
	done  chan struct{} // closed when standard error ends
}

// startUI starts sluice with args and env (see uiEnv) and reads the first
// line of its standard error; the command is stopped with SIGTERM when the
// test ends, and must then exit 0.
func startUI(t *testing.T, env []string, args ...string) *uiRun {
	t.Helper()
	return startUIWith(t, "", env, args...)
}

// startUIWith is startUI with stdin as the command's standard input.
func startUIWith(t *testing.T, stdin string, env []string, args ...string) *uiRun {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = uiEnv(env...)
	cmd.Stdout = io.Discard
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &uiRun{cmd: cmd, lines: make(chan string, 1000), done: make(chan struct{})}
	first := make(chan string, 1)
	go func() {
		defer close(r.done)
		sc := bufio.NewScanner(stderr)
		for n := 0; sc.Scan(); n++ {
			if n == 0 {
				first <- sc.Text()
				continue
			}
			select {
			case r.lines <- sc.Text():
			default:
			}
		}
		close(first)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		exited := make(chan error, 1)
		go func() { <-r.done; exited <- cmd.Wait() }()
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("%v after SIGTERM: %v", args, err)
			}
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			t.Errorf("%v did not stop within 15 s of SIGTERM", args)
		}
	})
	select {
	case r.first = <-first:
	case <-time.After(15 * time.Second):
		t.Fatalf("%v printed nothing in 15 s", args)
	}
	return r
}

var consoleLine = regexp.MustCompile(`^sluice: console at (http://127\.0\.0\.1:(\d+)/)$`)

// consoleURL returns the console's URL from the first line of r, failing
// the test when that line is not the console's.
func (r *uiRun) consoleURL(t *testing.T) string {
	t.Helper()
	m := consoleLine.FindStringSubmatch(r.first)
	if m == nil {
		t.Fatalf("%v: first line %q, want the console's URL", r.cmd.Args[1:], r.first)
	}
	return m[1]
}

// uiGet GETs url and returns the status code and the body.
func uiGet(t *testing.T, url string, hdr ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if len(hdr) == 2 {
		req.Header.Set(hdr[0], hdr[1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitForJob polls the console's /api/v1/job until it shows a running job
// with every operator of its plan, and returns it.
func waitForJob(t *testing.T, url string, hdr ...string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		code, body := uiGet(t, url+"api/v1/job", hdr...)
		last = body
		var v struct {
			Name, State string
			Plan        struct{ Operators []any }
			Operators   []map[string]any
		}
		if code == http.StatusOK && json.Unmarshal([]byte(body), &v) == nil && v.State == "running" &&
			len(v.Operators) > 0 && len(v.Operators) == len(v.Plan.Operators) {
			var m map[string]any
			json.Unmarshal([]byte(body), &m)
			return m
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%sapi/v1/job shows no running job after 15 s: %.500s", url, last)
	return nil
}

func writeUIJob(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "clicks.sql")
	if err := os.WriteFile(path, []byte(uiJob), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestEveryJobCommandPrintsTheConsoleURLFirstAndServesItsJob(t *testing.T) {
	job := writeUIJob(t)
	for _, tc := range []struct {
		name  string
		args  []string
		job   string
		stdin string
	}{
		{"job file", []string{"run", job}, "clicks", ""},
		{"clickstream", []string{"run", "clickstream", "--events", "-1", "--rows-per-second", "2000"}, "clickstream", ""},
		{"clickstream-store", []string{"run", "clickstream-store", "--events", "-1", "--rows-per-second", "2000"}, "demo", ""},
		{"cpualarm", []string{"run", "cpualarm", "--store-dir", t.TempDir()}, "cpualarm", ""},
		{"demo", []string{"demo", "--hosts", "5", "--spiking", "1"}, "demo", ""},
		{"clickstream-dashboard", []string{"run", "clickstream-dashboard", "--clicks-per-second", "500"}, "clickstream-dashboard", ""},
		{"location-dashboard", []string{"run", "location-dashboard", "--vehicles", "100"}, "location-dashboard", ""},
		{"sql shell's background job", []string{"sql"}, "job 1", uiJob},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := startUIWith(t, tc.stdin, nil, append(tc.args, "--parallelism", "2")...)
			url := r.consoleURL(t)
			v := waitForJob(t, url)
			if v["name"] != tc.job {
				t.Errorf("the console shows job %v, want %s", v["name"], tc.job)
			}
			code, body := uiGet(t, url+"metrics")
			if code != http.StatusOK || !strings.Contains(body, `sluice_operator_busy_seconds_total{job="`+tc.job+`"`) {
				t.Errorf("%smetrics: %d, without sluice_operator_busy_seconds_total of job %s", url, code, tc.job)
			}
		})
	}
}

func TestSecondJobGetsTheNextFreePort(t *testing.T) {
	job := writeUIJob(t)
	a := startUI(t, nil, "run", job, "--parallelism", "1")
	b := startUI(t, nil, "run", job, "--parallelism", "1")
	ua, ub := a.consoleURL(t), b.consoleURL(t)
	pa, pb := consoleLine.FindStringSubmatch(a.first)[2], consoleLine.FindStringSubmatch(b.first)[2]
	if pa == pb {
		t.Fatalf("both consoles on port %s", pa)
	}
	waitForJob(t, ua)
	waitForJob(t, ub)
}

func TestUIAddressInUseIsAnErrorNamingIt(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	for _, env := range [][]string{nil, {envUI + "=" + addr}} {
		args := []string{"run", writeUIJob(t)}
		if env == nil {
			args = append(args, "--ui", addr)
		}
		cmd := exec.Command(binary, args...)
		cmd.Env = uiEnv(env...)
		out, err := cmd.CombinedOutput()
		if cmd.ProcessState.ExitCode() != 1 {
			t.Fatalf("%v %v: %v, want exit status 1\n%s", env, args, err, out)
		}
		name := "--ui"
		if env != nil {
			name = "$" + envUI
		}
		if !strings.HasPrefix(string(out), "sluice: "+name+" "+addr+": ") || !strings.Contains(string(out), "address already in use") ||
			strings.Count(string(out), "\n") != 1 {
			t.Errorf("%v %v: %q, want one line naming %s %s, in use", env, args, out, name, addr)
		}
	}
}

func TestUINotOnLoopbackNeedsAToken(t *testing.T) {
	job := writeUIJob(t)
	for _, tc := range []struct {
		env  []string
		args []string
		want []string
	}{
		{nil, []string{"--ui", "0.0.0.0:0"}, []string{"--ui 0.0.0.0:0 is not a loopback address", "--ui-token"}},
		{nil, []string{"--ui", ":0"}, []string{"--ui :0 is not a loopback address", "--ui-token"}},
		{[]string{envUI + "=0.0.0.0:0"}, nil, []string{"$" + envUI + " 0.0.0.0:0 is not a loopback address", "--ui-token"}},
		{nil, []string{"--ui", "nonsense"}, []string{`--ui "nonsense": want HOST:PORT`}},
		{[]string{envUI + "=nonsense"}, nil, []string{`$SLUICE_UI "nonsense": want HOST:PORT`}},
		{nil, []string{"--ui", "off", "--ui-token", "x"}, []string{"--ui-token: the console is off"}},
		{nil, []string{"--ui-token", "a b"}, []string{"--ui-token: the token is letters"}},
	} {
		cmd := exec.Command(binary, append([]string{"run", job}, tc.args...)...)
		cmd.Env = uiEnv(tc.env...)
		out, _ := cmd.CombinedOutput()
		if cmd.ProcessState.ExitCode() != 2 {
			t.Errorf("%v %v: exit status %d, want 2 (a usage error)\n%s", tc.env, tc.args, cmd.ProcessState.ExitCode(), out)
		}
		for _, w := range tc.want {
			if !strings.Contains(string(out), w) {
				t.Errorf("%v %v: %q, want %q in it", tc.env, tc.args, out, w)
			}
		}
	}
	// With the token, it starts, and says how to log in without printing it.
	r := startUI(t, []string{envUIToken + "=s3cret-t0ken"}, "run", job, "--ui", "0.0.0.0:0", "--parallelism", "1")
	if !strings.HasPrefix(r.first, "sluice: console at http://") || !strings.Contains(r.first, "login?token=TOKEN") ||
		strings.Contains(r.first, "s3cret-t0ken") {
		t.Fatalf("first line %q: want the console's URL and how to log in, without the token", r.first)
	}
}

func TestUITokenGuardsTheConsole(t *testing.T) {
	job := writeUIJob(t)
	for _, tc := range []struct {
		env  []string
		args []string
	}{
		{nil, []string{"--ui-token", "flag-t0ken"}},
		{[]string{envUIToken + "=env-t0ken"}, nil},
	} {
		token := "flag-t0ken"
		if tc.env != nil {
			token = "env-t0ken"
		}
		r := startUI(t, tc.env, append([]string{"run", job, "--ui", "127.0.0.1:0", "--parallelism", "1"}, tc.args...)...)
		m := regexp.MustCompile(`^sluice: console at (http://127\.0\.0\.1:\d+/) \(with its token: open (\S+)login\?token=TOKEN`).FindStringSubmatch(r.first)
		if m == nil || m[1] != m[2] {
			t.Fatalf("first line %q: want the URL and how to log in", r.first)
		}
		url := m[1]
		waitForJob(t, url, "Authorization", "Bearer "+token)
		for _, p := range []string{"", "job", "api/v1/job", "api/v1/jobs", "api/v1/dashboards", "metrics"} {
			if code, _ := uiGet(t, url+p); code != http.StatusUnauthorized {
				t.Errorf("GET /%s without the token: %d, want 401", p, code)
			}
			if code, _ := uiGet(t, url+p, "Authorization", "Bearer "+token+"x"); code != http.StatusUnauthorized {
				t.Errorf("GET /%s with a wrong token: %d, want 401", p, code)
			}
			if code, _ := uiGet(t, url+p, "Cookie", "sluice_console="+token); code != http.StatusOK {
				t.Errorf("GET /%s with the login cookie: %d, want 200", p, code)
			}
		}
	}
}

// listeningSockets returns the TCP sockets process pid listens on.
func listeningSockets(t *testing.T, pid int) int {
	t.Helper()
	inodes := map[string]bool{}
	fds, _ := filepath.Glob(filepath.Join("/proc", strconv.Itoa(pid), "fd", "*"))
	for _, fd := range fds {
		if l, err := os.Readlink(fd); err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	n := 0
	for _, f := range []string{"tcp", "tcp6"} {
		b, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "net", f))
		for _, line := range strings.Split(string(b), "\n")[1:] {
			c := strings.Fields(line)
			if len(c) > 9 && c[3] == "0A" && inodes[c[9]] { // 0A: LISTEN
				n++
			}
		}
	}
	return n
}

func TestUIOffBindsNothing(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	job := writeUIJob(t)
	on := startUI(t, nil, "run", job, "--parallelism", "1")
	waitForJob(t, on.consoleURL(t))
	if n := listeningSockets(t, on.cmd.Process.Pid); n != 1 {
		t.Fatalf("with the console, the job listens on %d sockets, want 1 (the check does not see the console)", n)
	}
	for _, tc := range []struct{ env, args []string }{
		{nil, []string{"--ui", "off"}},
		{[]string{envUI + "=off"}, nil},
	} {
		off := startUI(t, tc.env, append([]string{"run", job, "--parallelism", "1"}, tc.args...)...)
		if strings.Contains(off.first, "console") {
			t.Errorf("%v %v: first line %q, want no console", tc.env, tc.args, off.first)
		}
		time.Sleep(time.Second)
		if n := listeningSockets(t, off.cmd.Process.Pid); n != 0 {
			t.Errorf("%v %v: the job listens on %d sockets, want none", tc.env, tc.args, n)
		}
	}
}
