package runtime

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/atomicfile"
)

// CheckpointStore is where checkpoints go when they do not go to a local
// folder: an object store shared by several machines (package
// runtime/cks3 keeps them in an S3-compatible bucket). Names are
// slash-separated and relative to the store's root, laid out as in a
// folder: "chk-000007/state.bin", "chk-000007/_manifest.json".
//
// Objects are written whole or not at all (one PUT each): a checkpoint
// writes its state first and its manifest last, so it is complete exactly
// when its manifest exists, as in a folder.
type CheckpointStore interface {
	// Put stores data under name, whole or not at all, replacing any
	// object of that name.
	Put(ctx context.Context, name string, data []byte) error
	// Get returns the object at name; an error wrapping fs.ErrNotExist
	// when there is none.
	Get(ctx context.Context, name string) ([]byte, error)
	// List returns the names of the objects that begin with prefix, in
	// any order.
	List(ctx context.Context, prefix string) ([]string, error)
	// Delete removes every object whose name begins with prefix.
	Delete(ctx context.Context, prefix string) error
	// Location names the object at name for messages (with "", the root):
	// a path, or s3://bucket/prefix/name.
	Location(name string) string
}

// DirStore returns the CheckpointStore of a local (or shared) folder, in
// the layout the runtime writes there. A run given CheckpointOptions.Dir
// writes through the folder directly (streaming its state to disk);
// DirStore serves code that handles folders and buckets alike.
func DirStore(dir string) CheckpointStore { return dirStore(dir) }

type dirStore string

func (d dirStore) path(name string) string { return filepath.Join(string(d), filepath.FromSlash(name)) }

func (d dirStore) Put(_ context.Context, name string, data []byte) error {
	p := d.path(name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if err := writeSynced(p+".tmp", data); err != nil {
		return err
	}
	if err := os.Rename(p+".tmp", p); err != nil {
		return err
	}
	return atomicfile.SyncDir(filepath.Dir(p))
}

func (d dirStore) Get(_ context.Context, name string) ([]byte, error) {
	return os.ReadFile(d.path(name))
}

// List lists the top-level entries of the folder that begin with prefix
// (a folder as "name/", even when empty, and each file in it as
// "name/file"), and, when prefix names a folder ("chk-000007/"), the files
// in it.
func (d dirStore) List(_ context.Context, prefix string) ([]string, error) {
	top, rest, inside := strings.Cut(prefix, "/")
	if inside {
		entries, err := os.ReadDir(d.path(top))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		names := []string{top + "/"}
		for _, e := range entries {
			if !e.IsDir() && strings.HasPrefix(e.Name(), rest) {
				names = append(names, top+"/"+e.Name())
			}
		}
		return names, nil
	}
	entries, err := os.ReadDir(string(d))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		if !e.IsDir() {
			names = append(names, e.Name())
			continue
		}
		sub, err := d.List(context.Background(), e.Name()+"/")
		if err != nil {
			return nil, err
		}
		names = append(names, sub...)
	}
	return names, nil
}

func (d dirStore) Delete(_ context.Context, prefix string) error {
	if strings.HasSuffix(prefix, "/") {
		return os.RemoveAll(d.path(prefix))
	}
	names, err := d.List(context.Background(), prefix)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := os.RemoveAll(d.path(n)); err != nil {
			return err
		}
	}
	return nil
}

func (d dirStore) Location(name string) string {
	if name == "" {
		return string(d)
	}
	return d.path(name)
}

// storeOf returns the store of a run's checkpoints.
func (o *CheckpointOptions) storeOf() CheckpointStore {
	if o.Store != nil {
		return o.Store
	}
	return dirStore(o.Dir)
}

// ckTimeout bounds each call to a CheckpointStore.
const ckTimeout = 5 * time.Minute

func ckCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), ckTimeout)
}

// ckFolder is the name of checkpoint id's folder: chk-000007.
func ckFolder(id int64, savepoint bool) string {
	if savepoint {
		return savepointPfx + formatID(id)
	}
	return checkpointPfx + formatID(id)
}

// ckListing is what a store holds of checkpoints: folder → complete.
type ckListing map[string]bool

func listStore(s CheckpointStore) (ckListing, error) {
	ctx, cancel := ckCtx()
	defer cancel()
	l := ckListing{}
	for _, pfx := range []string{checkpointPfx, savepointPfx} {
		names, err := s.List(ctx, pfx)
		if err != nil {
			return nil, fmt.Errorf("checkpoint dir %s: %w", s.Location(""), err)
		}
		for _, n := range names {
			folder, file, ok := strings.Cut(n, "/")
			if !ok {
				continue
			}
			l[folder] = l[folder] || file == manifestName
		}
	}
	return l, nil
}

// ids returns the ids of the folders named prefix<id>, ascending.
func (l ckListing) ids(prefix string) []int64 {
	var ids []int64
	for folder := range l {
		if !strings.HasPrefix(folder, prefix) {
			continue
		}
		id, err := strconv.ParseInt(strings.TrimPrefix(folder, prefix), 10, 64)
		if err == nil && id > 0 {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// LoadCheckpointFrom reads and verifies the checkpoint or savepoint folder
// (chk-000007, savepoint-000003) of store s.
func LoadCheckpointFrom(s CheckpointStore, folder string) (*Checkpoint, error) {
	if d, ok := s.(dirStore); ok {
		return LoadCheckpoint(d.path(folder))
	}
	return timedLoad(func() (*Checkpoint, error) { return loadFromStore(s, folder) })
}

func loadFromStore(s CheckpointStore, folder string) (*Checkpoint, error) {
	ctx, cancel := ckCtx()
	defer cancel()
	path := s.Location(folder)
	data, err := s.Get(ctx, folder+"/"+manifestName)
	if errors.Is(err, fs.ErrNotExist) {
		names, lerr := s.List(ctx, folder+"/")
		if lerr != nil {
			return nil, fmt.Errorf("checkpoint %s: %w", path, lerr)
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("checkpoint %s: %w", path, err)
		}
		return nil, fmt.Errorf("checkpoint %s is not complete: it has no %s", path, manifestName)
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return decodeCheckpoint(path, data, func() ([]byte, error) { return s.Get(ctx, folder+"/"+stateName) })
}

// LatestCheckpointIn is LatestCheckpoint for the checkpoints of store s.
func LatestCheckpointIn(s CheckpointStore) (c *Checkpoint, warnings []string, err error) {
	l, err := listStore(s)
	if err != nil {
		return nil, nil, err
	}
	type cand struct {
		id        int64
		savepoint bool
	}
	var cands []cand
	for _, id := range l.ids(checkpointPfx) {
		cands = append(cands, cand{id, false})
	}
	for _, id := range l.ids(savepointPfx) {
		cands = append(cands, cand{id, true})
	}
	slices.SortFunc(cands, func(a, b cand) int { return cmp.Compare(a.id, b.id) })
	for i := len(cands) - 1; i >= 0; i-- {
		c, err := LoadCheckpointFrom(s, ckFolder(cands[i].id, cands[i].savepoint))
		if err == nil {
			return c, warnings, nil
		}
		kind := "checkpoint"
		if cands[i].savepoint {
			kind = "savepoint"
		}
		warnings = append(warnings, fmt.Sprintf("skipping %s %d: %v", kind, cands[i].id, err))
	}
	return nil, warnings, nil
}

// storeWriter writes one checkpoint into a CheckpointStore: the state is
// kept in memory and put whole at commit, before the manifest.
type storeWriter struct {
	s      CheckpointStore
	folder string
	buf    bytes.Buffer
}

func (w *storeWriter) commitStore(m *manifest) error {
	ctx, cancel := ckCtx()
	defer cancel()
	if err := w.s.Put(ctx, w.folder+"/"+stateName, w.buf.Bytes()); err != nil {
		return fmt.Errorf("checkpoint %d: %w", m.ID, err)
	}
	data, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return err
	}
	if err := w.s.Put(ctx, w.folder+"/"+manifestName, data); err != nil {
		return fmt.Errorf("checkpoint %d: %w", m.ID, err)
	}
	return nil
}

func (w *storeWriter) abort() {
	ctx, cancel := ckCtx()
	defer cancel()
	w.s.Delete(ctx, w.folder+"/")
}

// SubStore returns the part of store s under prefix (a folder name ending
// in "/", e.g. "task-0003/a1b2/"), as a store of its own: a task of a
// shared job keeps its checkpoints there.
func SubStore(s CheckpointStore, prefix string) CheckpointStore {
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	if d, ok := s.(dirStore); ok {
		return dirStore(d.path(strings.TrimSuffix(prefix, "/")))
	}
	if p, ok := s.(prefixStore); ok {
		return prefixStore{p.s, p.prefix + prefix}
	}
	return prefixStore{s, prefix}
}

// prefixStore is the objects of s whose names begin with prefix.
type prefixStore struct {
	s      CheckpointStore
	prefix string
}

func (p prefixStore) Put(ctx context.Context, name string, data []byte) error {
	return p.s.Put(ctx, p.prefix+name, data)
}

func (p prefixStore) Get(ctx context.Context, name string) ([]byte, error) {
	return p.s.Get(ctx, p.prefix+name)
}

func (p prefixStore) List(ctx context.Context, prefix string) ([]string, error) {
	names, err := p.s.List(ctx, p.prefix+prefix)
	for i, n := range names {
		names[i] = strings.TrimPrefix(n, p.prefix)
	}
	return names, err
}

func (p prefixStore) Delete(ctx context.Context, prefix string) error {
	return p.s.Delete(ctx, p.prefix+prefix)
}

func (p prefixStore) Location(name string) string { return p.s.Location(p.prefix + name) }

// CheckpointFolder is the name of checkpoint id's folder in its store
// (chk-000007), for LoadCheckpointFrom.
func CheckpointFolder(id int64) string { return ckFolder(id, false) }
