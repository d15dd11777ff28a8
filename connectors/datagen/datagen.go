// Package datagen is Sluice's built-in clickstream generator: a
// deterministic (for a seed) model of the events a recommendation system
// reads, used by the 'datagen' source connector, `sluice gen` and the demo.
//
// # The model
//
// Arrivals. Events arrive as a Poisson process of Rate events per second
// of event time: inter-arrival times are exponential with mean 1/Rate.
//
// Sessions. K session slots run concurrently, with
// K = min(round(Rate*ThinkMean), Users, MaxSessions). Each arrival goes to
// a slot chosen uniformly at random, so by Poisson thinning every slot
// sees its own Poisson process of rate Rate/K: the gaps between a
// session's events (the think time) are exponential with mean K/Rate,
// which is ThinkMean unless K was capped by Users or MaxSessions (then the
// think time is shorter; Generator.ThinkTime reports it). After each event
// the session ends with probability 1/SessionMean, so session lengths are
// geometric on {1, 2, ...} with mean SessionMean; the slot's next arrival
// starts a new session (a new session_id, numbered 1, 2, ... in order of
// first event) for a user drawn uniformly from the users not in a
// session. So a user is in at most one session at a time, and a user's
// events cluster in time. The stream is stationary from the start: a
// slot's first event belongs to a session taken to be in progress at time
// zero (by memorylessness its remaining length is again geometric), so
// session ids merely climb faster during the first ThinkMean.
//
// Items. Item ids 1..Items are ranked by popularity: item k has weight
// k^-ZipfS (Zipf's law, any ZipfS > 0). Items belong to Categories
// categories by residue: item k is in category (k-1) mod Categories, so
// every category holds popular and rare items. Each user has two
// preferred categories (a hash of the seed and the user id, drawn with
// probability proportional to each category's total weight); a session
// picks one of them. A view draws, with probability CategoryAffinity, an
// item of the session's category (in proportion to the items' weights),
// otherwise an item of the whole catalogue. Because categories are drawn
// in proportion to their weight, the overall item frequencies still
// follow the Zipf law (exactly so when users are many), while items of
// one session are related — co-occurrence is meaningful.
//
// Event kinds. A session's first event is a 'view'. Each later event is a
// 'cart' with probability CartProb or a 'purchase' with probability
// PurchaseProb, both about the session's previous item; otherwise it is a
// 'view' of a newly drawn item.
//
// Out of order. Events are produced in arrival (true-time) order, but
// each event's ts is its arrival time minus a lag drawn uniformly from
// [0, MaxDelay): a watermark of ts - MaxDelay (or more) never drops one.
//
// Everything is driven by one seeded wyrand generator, so a Config
// (including Seed and Start) always yields the same stream.
package datagen

import (
	"fmt"
	"math"
	"time"
)

// Kind is an event's type.
type Kind uint8

// The event kinds.
const (
	View     Kind = iota // a user looked at an item
	Cart                 // a user put the previous item in the cart
	Purchase             // a user bought the previous item
)

var kindNames = [...]string{View: "view", Cart: "cart", Purchase: "purchase"}

// String returns "view", "cart" or "purchase".
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// Event is one generated click.
type Event struct {
	UserID    int64
	ItemID    int64
	SessionID int64
	// TS is the event time in microseconds since the Unix epoch: Arrival
	// minus the event's lag.
	TS int64
	// Arrival is the true time (µs since the epoch) at which the event
	// happened; events are generated in Arrival order.
	Arrival int64
	Kind    Kind
}

// Limits on the model's sizes.
const (
	MaxUsers = 1<<31 - 1
	MaxItems = 1 << 24
)

// Config parameterises the model. Zero fields take DefaultConfig's value;
// a negative probability means 0.
type Config struct {
	// Rate is the arrival rate, events per second of event time.
	Rate float64
	// Users and Items are the numbers of users and items (ids from 1).
	Users, Items int
	// ZipfS is the exponent of item popularity (> 0).
	ZipfS float64
	// SessionMean is the mean number of events per session (>= 1).
	SessionMean float64
	// ThinkMean is the target mean time between a session's events.
	ThinkMean time.Duration
	// MaxSessions caps the number of concurrent sessions (memory: about
	// 24 bytes each).
	MaxSessions int
	// Categories is the number of item categories (1: none).
	Categories int
	// CategoryAffinity is the probability that a view draws from the
	// session's category.
	CategoryAffinity float64
	// CartProb and PurchaseProb are the probabilities that an event after
	// a session's first is a 'cart' or a 'purchase'.
	CartProb, PurchaseProb float64
	// MaxDelay bounds the out-of-order lag of ts behind arrival (0: in
	// order).
	MaxDelay time.Duration
	// Seed selects the stream.
	Seed uint64
	// Start is the arrival time origin (zero: DefaultStart).
	Start time.Time
}

// DefaultStart is the event-time origin of a Config without Start.
var DefaultStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// DefaultConfig returns the defaults: 10,000 events/s, 100,000 users,
// 5,000 items, Zipf exponent 1.1, 8 events per session, 30 s think time,
// at most 2^20 concurrent sessions, 20 categories with affinity 0.7, cart
// 3%, purchase 1%, no delay, seed 1.
func DefaultConfig() Config {
	return Config{
		Rate: 10000, Users: 100000, Items: 5000, ZipfS: 1.1,
		SessionMean: 8, ThinkMean: 30 * time.Second, MaxSessions: 1 << 20,
		Categories: 20, CategoryAffinity: 0.7, CartProb: 0.03, PurchaseProb: 0.01,
		Seed: 1, Start: DefaultStart,
	}
}

// withDefaults fills zero fields and validates.
func (c Config) withDefaults() (Config, error) {
	d := DefaultConfig()
	if c.Rate == 0 {
		c.Rate = d.Rate
	}
	if c.Users == 0 {
		c.Users = d.Users
	}
	if c.Items == 0 {
		c.Items = d.Items
	}
	if c.ZipfS == 0 {
		c.ZipfS = d.ZipfS
	}
	if c.SessionMean == 0 {
		c.SessionMean = d.SessionMean
	}
	if c.ThinkMean == 0 {
		c.ThinkMean = d.ThinkMean
	}
	if c.MaxSessions == 0 {
		c.MaxSessions = d.MaxSessions
	}
	if c.Categories == 0 {
		c.Categories = d.Categories
	}
	if c.CategoryAffinity == 0 {
		c.CategoryAffinity = d.CategoryAffinity
	}
	if c.CartProb == 0 {
		c.CartProb = d.CartProb
	}
	if c.PurchaseProb == 0 {
		c.PurchaseProb = d.PurchaseProb
	}
	if c.Start.IsZero() {
		c.Start = d.Start
	}
	c.CategoryAffinity = max(c.CategoryAffinity, 0)
	c.CartProb = max(c.CartProb, 0)
	c.PurchaseProb = max(c.PurchaseProb, 0)
	switch {
	case !(c.Rate > 0) || math.IsInf(c.Rate, 0) || c.Rate > 1e12:
		return c, fmt.Errorf("datagen: rate %v must be a positive number of events per second", c.Rate)
	case c.Users < 1 || c.Users > MaxUsers:
		return c, fmt.Errorf("datagen: users %d out of range [1, %d]", c.Users, MaxUsers)
	case c.Items < 1 || c.Items > MaxItems:
		return c, fmt.Errorf("datagen: items %d out of range [1, %d]", c.Items, MaxItems)
	case !(c.ZipfS > 0) || c.ZipfS > 100:
		return c, fmt.Errorf("datagen: zipf exponent %v must be in (0, 100]", c.ZipfS)
	case !(c.SessionMean >= 1) || math.IsInf(c.SessionMean, 0):
		return c, fmt.Errorf("datagen: mean session length %v must be at least 1", c.SessionMean)
	case c.ThinkMean < 0:
		return c, fmt.Errorf("datagen: think time %v is negative", c.ThinkMean)
	case c.MaxSessions < 1:
		return c, fmt.Errorf("datagen: max sessions %d must be positive", c.MaxSessions)
	case c.Categories < 1 || c.Categories > c.Items:
		return c, fmt.Errorf("datagen: categories %d out of range [1, items=%d]", c.Categories, c.Items)
	case c.CategoryAffinity > 1:
		return c, fmt.Errorf("datagen: category affinity %v exceeds 1", c.CategoryAffinity)
	case c.CartProb+c.PurchaseProb > 1:
		return c, fmt.Errorf("datagen: cart (%v) and purchase (%v) probabilities exceed 1 together", c.CartProb, c.PurchaseProb)
	case c.MaxDelay < 0:
		return c, fmt.Errorf("datagen: max delay %v is negative", c.MaxDelay)
	}
	return c, nil
}

// slot is one concurrent session.
type slot struct {
	session int64
	user    uint32
	item    uint32 // previous item, 0 before the session's first event
	cat     uint32
	active  bool
}

// Generator produces the event stream of a Config. It is not safe for
// concurrent use.
type Generator struct {
	cfg Config
	r   rng

	tUs      float64 // arrival of the next event, µs after start
	gapUs    float64 // mean inter-arrival time, µs
	startUs  int64
	delayUs  float64
	delayMax int64 // largest lag, µs
	endP     float64
	cartP    float64 // cart threshold
	buyP     float64 // cart+purchase threshold
	affP     float64
	nCat     uint32
	slots    []slot
	pool     []uint32 // user ids; pool[i] is slot i's user for i < len(slots)
	items    alias    // over all items (index = item id - 1)
	cats     alias    // over categories, by total weight
	byCat    []alias  // per category, local index j = item (j*nCat + c + 1)
	sessions int64    // sessions started
	count    int64    // events generated
}

// NewGenerator builds the generator of cfg (zero fields defaulted). Its
// set-up costs O(Users + Items) time and memory.
func NewGenerator(cfg Config) (*Generator, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	g := &Generator{
		cfg:     cfg,
		r:       rng{s: mix64(cfg.Seed ^ 0x5eed)},
		gapUs:   1e6 / cfg.Rate,
		startUs: cfg.Start.UnixMicro(),
		delayUs: float64(cfg.MaxDelay) / float64(time.Microsecond),
		// The lag is below MaxDelay: at most its microseconds rounded up, minus one.
		delayMax: int64((cfg.MaxDelay+time.Microsecond-1)/time.Microsecond) - 1,
		endP:     1 / cfg.SessionMean,
		cartP:    cfg.CartProb,
		buyP:     cfg.CartProb + cfg.PurchaseProb,
		affP:     cfg.CategoryAffinity,
		nCat:     uint32(cfg.Categories),
	}
	k := math.Round(cfg.Rate * cfg.ThinkMean.Seconds())
	k = min(k, float64(cfg.Users), float64(cfg.MaxSessions))
	g.slots = make([]slot, max(int(k), 1))

	g.pool = make([]uint32, cfg.Users)
	for i := range g.pool {
		g.pool[i] = uint32(i + 1)
	}
	for i := len(g.pool) - 1; i > 0; i-- { // Fisher-Yates
		j := g.r.intn(uint64(i + 1))
		g.pool[i], g.pool[j] = g.pool[j], g.pool[i]
	}

	w := zipfWeights(cfg.Items, 1, 1, cfg.ZipfS)
	if g.items, err = newAlias(w); err != nil {
		return nil, err
	}
	if g.nCat > 1 {
		catW := make([]float64, g.nCat)
		for i, x := range w {
			catW[i%int(g.nCat)] += x
		}
		if g.cats, err = newAlias(catW); err != nil {
			return nil, err
		}
		g.byCat = make([]alias, g.nCat)
		for c := range g.byCat {
			n := (cfg.Items - c + int(g.nCat) - 1) / int(g.nCat)
			if g.byCat[c], err = newAlias(zipfWeights(n, c+1, int(g.nCat), cfg.ZipfS)); err != nil {
				return nil, err
			}
		}
	}
	g.tUs = g.r.exp() * g.gapUs
	return g, nil
}

// Config returns the generator's configuration, defaults filled in.
func (g *Generator) Config() Config { return g.cfg }

// Sessions returns the number of concurrent session slots.
func (g *Generator) Sessions() int { return len(g.slots) }

// ThinkTime returns the actual mean time between a session's events.
func (g *Generator) ThinkTime() time.Duration {
	return time.Duration(float64(len(g.slots)) / g.cfg.Rate * float64(time.Second))
}

// Count returns the number of events generated so far.
func (g *Generator) Count() int64 { return g.count }

// NextArrival returns the arrival time (µs since the epoch) of the event
// the next call to Next produces.
func (g *Generator) NextArrival() int64 { return g.startUs + int64(g.tUs) }

// Next generates the next event into e. It does not allocate.
func (g *Generator) Next(e *Event) {
	arrival := g.startUs + int64(g.tUs)
	g.tUs += g.r.exp() * g.gapUs

	i := g.r.intn(uint64(len(g.slots)))
	s := &g.slots[i]
	if !s.active {
		g.sessions++
		s.session = g.sessions
		s.user = g.pool[i]
		s.item = 0
		s.active = true
		if g.nCat > 1 {
			// The user's preferred categories are a function of the seed
			// and the user; the session takes one of the two.
			h := mix64(g.cfg.Seed ^ uint64(s.user)*0x9e3779b97f4a7c15 ^ (g.r.next() & 1))
			s.cat = g.cats.sample(h)
		}
	}

	kind := View
	if s.item != 0 && g.buyP > 0 {
		if u := g.r.float(); u < g.buyP {
			kind = Purchase
			if u < g.cartP {
				kind = Cart
			}
		}
	}
	if kind == View {
		if g.nCat > 1 && g.r.float() < g.affP {
			j := g.byCat[s.cat].sample(g.r.next())
			s.item = j*g.nCat + s.cat + 1
		} else {
			s.item = g.items.sample(g.r.next()) + 1
		}
	}

	e.UserID = int64(s.user)
	e.ItemID = int64(s.item)
	e.SessionID = s.session
	e.Arrival = arrival
	e.TS = arrival
	if g.delayUs > 0 {
		e.TS -= min(int64(g.r.float()*g.delayUs), g.delayMax)
	}
	e.Kind = kind
	g.count++

	if g.r.float() < g.endP {
		s.active = false
		if n := uint64(len(g.pool)); n > uint64(len(g.slots)) {
			// Hand the slot to a user not in a session.
			k := uint64(len(g.slots))
			j := k + g.r.intn(n-k)
			g.pool[i], g.pool[j] = g.pool[j], g.pool[i]
		}
	}
}
