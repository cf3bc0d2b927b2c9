package group

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Meta is what a member tells the other members of its group, carried as the
// UserData of its group protocol metadata: every member's Meta is visible to
// the others (Change.Peers) before they start work.
type Meta struct {
	// Checkpoint is where the member's job keeps its checkpoints: a folder,
	// or s3://bucket/prefix.
	Checkpoint string `json:"checkpoint,omitempty"`
	// Fingerprint identifies the job the member runs (e.g. a hash of its
	// job file and options): members of one group must run the same job.
	Fingerprint string `json:"fingerprint,omitempty"`
}

// SharedCheckpoint reports whether the checkpoint location is one that other
// machines can read (an object store, or a folder declared shared:
// "shared:/mnt/ck"), so a partition's state can move.
func (m Meta) SharedCheckpoint() bool {
	return strings.HasPrefix(m.Checkpoint, "s3://") || strings.HasPrefix(m.Checkpoint, SharedFolder)
}

// SharedFolder starts the Checkpoint of a member whose checkpoint folder is
// on storage every member reaches (a network file system).
const SharedFolder = "shared:"

// metaMagic starts the UserData of a Sluice member; a member without it is
// not a Sluice process (or an older one).
var metaMagic = []byte("sluice/1 ")

// userData is a member's UserData after metaMagic, in JSON.
type userData struct {
	Meta
	Owned []int `json:"owned,omitempty"` // partition numbers of its last generation
}

func encodeUserData(m Meta, owned []int) []byte {
	b, _ := json.Marshal(userData{Meta: m, Owned: owned}) // strings and ints: cannot fail
	return append(bytes.Clone(metaMagic), b...)
}

// decodeUserData reads a member's UserData; ok is false if it is not a
// Sluice member's.
func decodeUserData(b []byte) (u userData, ok bool) {
	rest, found := bytes.CutPrefix(b, metaMagic)
	if !found || json.Unmarshal(rest, &u) != nil {
		return userData{}, false
	}
	return u, true
}

// Peer is a member of the group as DescribeGroups shows it.
type Peer struct {
	MemberID string
	ClientID string
	Host     string
	Meta     Meta
	Sluice   bool // UserData carried a Sluice Meta
}

// CheckPeers returns an error if this member (self, whose id is memberID)
// cannot work alongside the other members: a member that is not a Sluice
// process, a member running another job (a different fingerprint), or a
// checkpoint location that only this machine can read (or that differs)
// while other members exist, since a partition's state could not follow the
// partition to its next owner.
func CheckPeers(memberID string, self Meta, peers []Peer) error {
	for _, p := range peers {
		if p.MemberID == memberID {
			continue
		}
		switch {
		case !p.Sluice:
			return fmt.Errorf("group member %s (%s at %s) is not a Sluice process of this job", p.MemberID, p.ClientID, p.Host)
		case p.Meta.Fingerprint != self.Fingerprint:
			return fmt.Errorf("group member %s (%s) runs another job (fingerprint %s, this one is %s): every member must run the same job file and options",
				p.MemberID, p.Host, p.Meta.Fingerprint, self.Fingerprint)
		case !self.SharedCheckpoint():
			return fmt.Errorf("checkpoint dir %s is local but the group has other members (%s at %s): use a shared checkpoint dir (s3://bucket/prefix) so state can move with its partitions",
				self.Checkpoint, p.MemberID, p.Host)
		case p.Meta.Checkpoint != self.Checkpoint:
			return fmt.Errorf("group member %s (%s) keeps checkpoints in %s, this one in %s: every member must use the same checkpoint dir",
				p.MemberID, p.Host, p.Meta.Checkpoint, self.Checkpoint)
		}
	}
	return nil
}
