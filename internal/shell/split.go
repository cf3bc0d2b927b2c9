package shell

import (
	"strings"
)

// piece is one statement of the shell's input: its text without the ';'
// that ends it, and where the text starts (1-based).
type piece struct {
	text      string
	line, col int
}

// src is the piece as a script whose statement sits at its place, so that
// errors name the line and column of the input.
func (p piece) src() string {
	return strings.Repeat("\n", p.line-1) + strings.Repeat(" ", p.col-1) + p.text
}

// splitter cuts input lines into statements at each ';' outside quotes
// and comments; a statement may span lines.
type splitter struct {
	buf       strings.Builder
	line, col int  // where buf starts
	cur       int  // the number of the line being fed
	quote     byte // the open quote, 0 when none
	comment   bool // inside /* … */
}

// pending reports whether a statement has begun and not ended.
func (s *splitter) pending() bool { return strings.TrimSpace(stripComments(s.buf.String())) != "" }

// reset drops the statement begun (Ctrl-C at the prompt).
func (s *splitter) reset() {
	s.buf.Reset()
	s.quote, s.comment = 0, false
}

// feed takes the next input line, without its newline, and returns the
// statements it completes.
func (s *splitter) feed(line string) []piece {
	s.cur++
	var out []piece
	start := 0 // of the part of line not yet in buf
	begin := func(i int) {
		if s.buf.Len() == 0 {
			s.line, s.col = s.cur, i+1
		}
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		next := byte(0)
		if i+1 < len(line) {
			next = line[i+1]
		}
		switch {
		case s.comment:
			if c == '*' && next == '/' {
				s.comment = false
				i++
			}
		case s.quote != 0:
			if c == s.quote {
				if next == s.quote { // '' inside a string
					i++
				} else {
					s.quote = 0
				}
			}
		case c == '-' && next == '-':
			i = len(line)
		case c == '/' && next == '*':
			s.comment = true
			i++
		case c == '\'' || c == '"' || c == '`':
			s.quote = c
		case c == ';':
			begin(start)
			s.buf.WriteString(line[start:i])
			if strings.TrimSpace(stripComments(s.buf.String())) != "" {
				out = append(out, piece{text: s.buf.String(), line: s.line, col: s.col})
			}
			s.buf.Reset()
			start = i + 1
		}
	}
	if rest := line[start:]; rest != "" || s.buf.Len() > 0 {
		begin(start)
		s.buf.WriteString(rest)
		s.buf.WriteByte('\n')
	}
	if s.buf.Len() > 0 && strings.TrimSpace(s.buf.String()) == "" && s.quote == 0 && !s.comment {
		s.buf.Reset() // blank lines before a statement
	}
	return out
}

// stripComments removes -- and /* */ comments from a statement's text
// (quotes are respected), for recognising the shell's own commands.
func stripComments(text string) string {
	var b strings.Builder
	var quote byte
	for i := 0; i < len(text); i++ {
		c := text[i]
		next := byte(0)
		if i+1 < len(text) {
			next = text[i+1]
		}
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '-' && next == '-':
			for i < len(text) && text[i] != '\n' {
				i++
			}
			b.WriteByte(' ')
			continue
		case c == '/' && next == '*':
			end := strings.Index(text[i+2:], "*/")
			if end < 0 {
				return b.String()
			}
			i += end + 3
			b.WriteByte(' ')
			continue
		case c == '\'' || c == '"' || c == '`':
			quote = c
		}
		b.WriteByte(c)
	}
	return b.String()
}
