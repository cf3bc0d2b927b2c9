package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// accountFile holds the account settings (UpdateAccountSettings); like
// keyFile, its '~' keeps it apart from stream folders.
const accountFile = "~account.json"

// minimumCommitment is how long a minimum throughput billing commitment
// stays enabled at least: disabling it earlier leaves it
// ENABLED_UNTIL_EARLIEST_ALLOWED_END until then.
const minimumCommitment = 24 * time.Hour

// accountSettings is the content of accountFile; times are Unix
// milliseconds, 0 when unset.
type accountSettings struct {
	Status               string `json:"status,omitempty"` // "" is DISABLED
	StartedAt            int64  `json:"startedAt,omitempty"`
	EarliestAllowedEndAt int64  `json:"earliestAllowedEndAt,omitempty"`
	EndedAt              int64  `json:"endedAt,omitempty"`
}

// readAccount loads the settings, ending a commitment whose earliest
// allowed end has passed. Callers hold s.accountMu.
func (s *Server) readAccount() (accountSettings, error) {
	var a accountSettings
	b, err := os.ReadFile(filepath.Join(s.dir, accountFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return a, fmt.Errorf("cannot read account settings: %w", err)
	}
	if err == nil {
		if err := json.Unmarshal(b, &a); err != nil {
			return a, fmt.Errorf("cannot parse %s: %w", filepath.Join(s.dir, accountFile), err)
		}
	}
	if a.Status == "ENABLED_UNTIL_EARLIEST_ALLOWED_END" && s.opts.Now().UnixMilli() >= a.EarliestAllowedEndAt {
		a.Status, a.EndedAt = "DISABLED", a.EarliestAllowedEndAt
	}
	if a.Status == "" {
		a.Status = "DISABLED"
	}
	return a, nil
}

// out is the MinimumThroughputBillingCommitmentOutput of a.
func (a accountSettings) out() map[string]any {
	m := map[string]any{"Status": a.Status}
	for k, ms := range map[string]int64{"StartedAt": a.StartedAt, "EarliestAllowedEndAt": a.EarliestAllowedEndAt, "EndedAt": a.EndedAt} {
		if ms != 0 {
			m[k] = epochSeconds(ms)
		}
	}
	return map[string]any{"MinimumThroughputBillingCommitment": m}
}

func (s *Server) describeAccountSettings(body []byte) (any, error) {
	if err := decode(body, &struct{}{}); err != nil {
		return nil, err
	}
	s.accountMu.Lock()
	defer s.accountMu.Unlock()
	a, err := s.readAccount()
	if err != nil {
		return nil, err
	}
	return a.out(), nil
}

// updateAccountSettings turns the minimum throughput billing commitment
// on (from now, for at least minimumCommitment) or off (at once when that
// time has passed, else when it passes).
func (s *Server) updateAccountSettings(body []byte) (any, error) {
	var in struct {
		MinimumThroughputBillingCommitment *struct{ Status *string }
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var c checker
	if m := in.MinimumThroughputBillingCommitment; m == nil {
		c.null("minimumThroughputBillingCommitment")
	} else {
		c.enum("minimumThroughputBillingCommitment.status", m.Status, true, "ENABLED", "DISABLED")
	}
	if err := c.err(); err != nil {
		return nil, err
	}
	s.accountMu.Lock()
	defer s.accountMu.Unlock()
	a, err := s.readAccount()
	if err != nil {
		return nil, err
	}
	now := s.opts.Now().UnixMilli()
	switch want := *in.MinimumThroughputBillingCommitment.Status; {
	case want == "ENABLED" && a.Status == "DISABLED":
		a = accountSettings{Status: "ENABLED", StartedAt: now, EarliestAllowedEndAt: now + minimumCommitment.Milliseconds()}
	case want == "ENABLED":
		a.Status, a.EndedAt = "ENABLED", 0 // still committed: keep going
	case a.Status == "DISABLED":
	case now >= a.EarliestAllowedEndAt:
		a.Status, a.EndedAt = "DISABLED", now
	default:
		a.Status = "ENABLED_UNTIL_EARLIEST_ALLOWED_END"
	}
	b, err := json.Marshal(a)
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(filepath.Join(s.dir, accountFile), b, 0o644); err != nil {
		return nil, err
	}
	return a.out(), nil
}
