package executor

import (
	"sort"
	"sync"
	"sync/atomic"

	"github.com/sluicedb/sluice/operators"
	"github.com/sluicedb/sluice/operators/state"
	"github.com/sluicedb/sluice/planner"
)

// object is a live table or materialized view.
type object struct {
	rel *planner.Relation

	// store is the committed snapshot; read under Engine.snapMu.RLock,
	// written by the coordinator under snapMu.Lock.
	store *state.Store

	// Tables: the DML-visible state of a keyed table, and the changes
	// since the last barrier, both under dmlMu.
	dmlMu   sync.Mutex
	current *state.Store
	pending []*operators.Chunk

	// subs are the inboxes of the views reading this object; changed only
	// under Engine.ingestMu.Lock (tables) or while no epoch is in flight
	// (views), read by the sender.
	subs []subscription

	// wm tracks the watermark of a table declared WITH a WATERMARK.
	wm watermarkState

	// Views.
	frag *fragment
	deps []*object

	// subscribers receive each committed epoch's changes; under snapMu.
	subscribers []*Subscription

	// lastChange is when (Unix µs) an epoch last changed the object's
	// rows; set at commit.
	lastChange atomic.Int64
	// rowsChanged counts the row changes committed to the object.
	rowsChanged atomic.Int64

	// source runs the connector of a source.
	source *sourceRunner
	// sinks names the sinks reading this object (guarded by coordMu).
	sinks []string

	// failed is set when the view's pipeline hit an error; reads of a
	// failed view return it. Guarded by Engine.snapMu, except that the
	// view's own fragment reads it at a barrier without the lock (the
	// commit that sets it is ordered before that barrier: see viewRows).
	failed error
}

// subscription is an edge from an object to input port Input of a view's
// fragment.
type subscription struct {
	frag  *fragment
	input int
}

func (o *object) isTable() bool { return o.rel.Kind == planner.TableRelation }

// isInput reports whether o receives rows from outside (a table or a
// source): barriers are injected at inputs.
func (o *object) isInput() bool {
	return o.rel.Kind == planner.TableRelation || o.rel.Kind == planner.SourceRelation
}

// catalog is the name → object map. It implements planner.Catalog.
type catalog struct {
	mu      sync.RWMutex
	objects map[string]*object
	ids     map[uint64]*object
	nextID  uint64
}

// put adds an object under its name and ID. The caller holds mu.
func (c *catalog) put(o *object) {
	c.objects[o.rel.Name] = o
	c.ids[o.rel.ID] = o
}

// remove deletes an object. The caller holds mu.
func (c *catalog) remove(o *object) {
	delete(c.objects, o.rel.Name)
	delete(c.ids, o.rel.ID)
}

// Relation implements planner.Catalog.
func (c *catalog) Relation(name string) (*planner.Relation, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	o, ok := c.objects[planner.NormalizeName(name)]
	if !ok {
		if st, ok := systemTables[planner.NormalizeName(name)]; ok {
			return st.rel, true
		}
		return nil, false
	}
	return o.rel, true
}

func (c *catalog) get(name string) (*object, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	o, ok := c.objects[planner.NormalizeName(name)]
	return o, ok
}

func (c *catalog) byID(id uint64) *object {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.ids[id]
}

// list returns the objects of a kind sorted by name.
func (c *catalog) list(kind planner.RelationKind) []*object {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []*object
	for _, o := range c.objects {
		if o.rel.Kind == kind {
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].rel.Name < out[j].rel.Name })
	return out
}

// all returns every object, in creation order.
func (c *catalog) all() []*object {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]*object, 0, len(c.objects))
	for _, o := range c.objects {
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].rel.ID < out[j].rel.ID })
	return out
}

// dependents lists the views reading o.
func (c *catalog) dependents(o *object) []*object {
	var out []*object
	for _, v := range c.all() {
		for _, d := range v.deps {
			if d == o {
				out = append(out, v)
				break
			}
		}
	}
	return out
}
