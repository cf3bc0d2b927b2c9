package parser

// CreateTrigger is CREATE FUNCTION TRIGGER [IF NOT EXISTS] Name ON
// {STREAM | QUEUE} Source WITH (…): a function invoked with batches of the
// stream's records or of the queue's messages.
type CreateTrigger struct {
	Name        string
	IfNotExists bool
	// OnQueue tells ON QUEUE (Source names a queue) from ON STREAM.
	OnQueue   bool
	Source    string
	SourcePos Pos
	Options   []Option
	Pos       Pos
}

// DropTrigger is DROP FUNCTION TRIGGER [IF EXISTS] Name.
type DropTrigger struct {
	Name     string
	IfExists bool
	Pos      Pos
}

func (*CreateTrigger) node() {}
func (*DropTrigger) node()   {}

// isTrigger reports whether FUNCTION TRIGGER starts a trigger's statement
// (not a function called "trigger": CREATE FUNCTION trigger AS …).
func (p *parser) isTrigger() bool {
	if !p.peek().is("FUNCTION") || !p.peekAt(1).is("TRIGGER") {
		return false
	}
	t := p.peekAt(2)
	return t.kind != tEOF && !t.is("AS")
}

// createTrigger reads CREATE FUNCTION TRIGGER [IF NOT EXISTS] name ON
// {STREAM | QUEUE} source WITH (…); FUNCTION TRIGGER is next.
func (p *parser) createTrigger(start token) (Node, error) {
	p.i += 2
	ct := &CreateTrigger{Pos: start.pos}
	var err error
	if ct.IfNotExists, err = p.ifNotExists("ON"); err != nil {
		return nil, err
	}
	if ct.Name, _, err = p.name("trigger name"); err != nil {
		return nil, err
	}
	if err := p.expectKeyword("ON"); err != nil {
		return nil, err
	}
	what := "stream name"
	switch {
	case p.accept("QUEUE"):
		ct.OnQueue, what = true, "queue name"
	case !p.accept("STREAM"):
		return nil, p.expected("STREAM or QUEUE after ON", "STREAM", "QUEUE")
	}
	ct.SourcePos = p.peek().pos
	if ct.Source, _, err = p.name(what); err != nil {
		return nil, err
	}
	if ct.OnQueue && p.peek().isPunct(".") && p.peekAt(1).text == "fifo" {
		ct.Source += ".fifo" // a FIFO queue's name, unquoted
		p.i += 2
	}
	if err := p.expectKeyword("WITH"); err != nil {
		return nil, err
	}
	if ct.Options, err = p.optionList(); err != nil {
		return nil, err
	}
	return ct, p.expectEnd()
}

// dropTrigger reads DROP FUNCTION TRIGGER [IF EXISTS] name; FUNCTION
// TRIGGER is next.
func (p *parser) dropTrigger(start token) (Node, error) {
	p.i += 2
	d := &DropTrigger{Pos: start.pos}
	if p.peek().is("IF") && p.peekAt(1).kind != tEOF {
		p.i++
		if err := p.expectKeyword("EXISTS"); err != nil {
			return nil, err
		}
		d.IfExists = true
	}
	var err error
	if d.Name, _, err = p.name("trigger name"); err != nil {
		return nil, err
	}
	return d, p.expectEnd()
}
