package parser

// CreateTrigger is CREATE FUNCTION TRIGGER [IF NOT EXISTS] Name ON STREAM
// Stream WITH (…): a function invoked with batches of the stream's
// records.
type CreateTrigger struct {
	Name        string
	IfNotExists bool
	Stream      string
	StreamPos   Pos
	Options     []Option
	Pos         Pos
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
// STREAM stream WITH (…); FUNCTION TRIGGER is next.
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
	if t := p.peek(); t.is("QUEUE") {
		return nil, p.errAt(t, "a trigger ON QUEUE is not supported yet: triggers read streams (ON STREAM name)")
	}
	if !p.accept("STREAM") {
		return nil, p.expected("STREAM after ON", "STREAM")
	}
	ct.StreamPos = p.peek().pos
	if ct.Stream, _, err = p.name("stream name"); err != nil {
		return nil, err
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
