package datagen

import (
	"math"
	"sort"
	"testing"
	"time"
)

func mustGen(t testing.TB, cfg Config) *Generator {
	t.Helper()
	g, err := NewGenerator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func events(g *Generator, n int) []Event {
	ev := make([]Event, n)
	for i := range ev {
		g.Next(&ev[i])
	}
	return ev
}

func TestDeterministicForSeed(t *testing.T) {
	cfg := Config{Rate: 2000, Users: 5000, Items: 700, MaxDelay: 300 * time.Millisecond, Seed: 42}
	a := events(mustGen(t, cfg), 50000)
	b := events(mustGen(t, cfg), 50000)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("event %d differs for the same seed: %+v vs %+v", i, a[i], b[i])
		}
	}
	cfg.Seed = 43
	c := events(mustGen(t, cfg), 50000)
	same := 0
	for i := range a {
		if a[i] == c[i] {
			same++
		}
	}
	if same > 100 {
		t.Fatalf("seeds 42 and 43 share %d of 50000 events", same)
	}
}

func TestPoissonArrivals(t *testing.T) {
	const n = 100000
	const rate = 5000.0
	g := mustGen(t, Config{Rate: rate, Seed: 7})
	ev := events(g, n+1)
	mean := 1e6 / rate // µs
	var sum, sum2 float64
	above := 0
	for i := 1; i <= n; i++ {
		d := float64(ev[i].Arrival - ev[i-1].Arrival)
		if d < 0 {
			t.Fatalf("arrival %d goes back in time: %d after %d", i, ev[i].Arrival, ev[i-1].Arrival)
		}
		sum += d
		sum2 += d * d
		if d > mean {
			above++
		}
	}
	m := sum / n
	sd := math.Sqrt(sum2/n - m*m)
	// The mean of n exponential gaps has relative standard error 1/sqrt(n) = 0.3%.
	if math.Abs(m-mean)/mean > 0.015 {
		t.Errorf("mean inter-arrival %.2f µs, want %.2f ± 1.5%%", m, mean)
	}
	// Exponential: standard deviation equals the mean, P(gap > mean) = 1/e.
	if math.Abs(sd/m-1) > 0.03 {
		t.Errorf("coefficient of variation %.3f, want 1 ± 0.03", sd/m)
	}
	if f := float64(above) / n; math.Abs(f-1/math.E) > 0.01 {
		t.Errorf("P(gap > mean) = %.4f, want 1/e = %.4f", f, 1/math.E)
	}
	if ev[0].Arrival < DefaultStart.UnixMicro() {
		t.Errorf("first arrival %d before the start %d", ev[0].Arrival, DefaultStart.UnixMicro())
	}
}

// zipfCheck compares item frequencies with the Zipf law: the top ranks
// one by one (within 5 standard deviations, or rel of the expectation if
// larger), the rest in bins by a chi-square test.
func zipfCheck(t *testing.T, cfg Config, n int, rel float64) {
	t.Helper()
	g := mustGen(t, cfg)
	counts := make([]float64, cfg.Items+1)
	var e Event
	for range n {
		g.Next(&e)
		if e.ItemID < 1 || e.ItemID > int64(cfg.Items) {
			t.Fatalf("item id %d out of [1, %d]", e.ItemID, cfg.Items)
		}
		counts[e.ItemID]++
	}
	var h float64
	for k := 1; k <= cfg.Items; k++ {
		h += math.Pow(float64(k), -cfg.ZipfS)
	}
	p := func(k int) float64 { return math.Pow(float64(k), -cfg.ZipfS) / h }
	for k := 1; k <= 20; k++ {
		want := p(k) * float64(n)
		tol := max(5*math.Sqrt(want*(1-p(k))), rel*want)
		if math.Abs(counts[k]-want) > tol {
			t.Errorf("s=%v: item %d seen %.0f times, want %.0f ± %.0f", cfg.ZipfS, k, counts[k], want, tol)
		}
	}
	// Bins of geometrically growing rank ranges, chi-square with a
	// generous bound (the 99.99th percentile of chi2 with ~20 degrees of
	// freedom is about 50).
	if rel > 0 {
		return
	}
	var chi2 float64
	bins := 0
	for lo := 21; lo <= cfg.Items; lo = lo * 3 / 2 {
		hi := min(lo*3/2, cfg.Items+1)
		var obs, exp float64
		for k := lo; k < hi; k++ {
			obs += counts[k]
			exp += p(k) * float64(n)
		}
		chi2 += (obs - exp) * (obs - exp) / exp
		bins++
	}
	if chi2 > 50 {
		t.Errorf("s=%v: chi-square %.1f over %d bins of the tail", cfg.ZipfS, chi2, bins)
	}
}

func TestZipfFrequencies(t *testing.T) {
	// Without categories the sampler is the law itself; s <= 1 works too.
	for _, s := range []float64{1.1, 0.7, 1.0, 2.0} {
		zipfCheck(t, Config{Items: 1000, ZipfS: s, Categories: 1, Seed: 3}, 300000, 0)
	}
	// With categories the marginal still follows the law, up to how the
	// users' preferred categories happen to fall.
	zipfCheck(t, Config{Items: 1000, ZipfS: 1.1, Users: 200000, Seed: 5}, 300000, 0.05)
}

func TestAliasSampler(t *testing.T) {
	w := []float64{1, 2, 3, 4, 0.5}
	a, err := newAlias(w)
	if err != nil {
		t.Fatal(err)
	}
	r := rng{s: 99}
	const n = 1000000
	counts := make([]float64, len(w))
	for range n {
		counts[a.sample(r.next())]++
	}
	var chi2 float64
	for i, x := range w {
		exp := x / 10.5 * n
		chi2 += (counts[i] - exp) * (counts[i] - exp) / exp
	}
	if chi2 > 25 { // 4 degrees of freedom: far beyond the 99.99th percentile (~23.5)
		t.Errorf("alias sampler chi-square %.1f: counts %v", chi2, counts)
	}
	for _, bad := range [][]float64{nil, {1, 0}, {1, -2}, {math.NaN()}, {math.Inf(1)}} {
		if _, err := newAlias(bad); err == nil {
			t.Errorf("newAlias(%v) accepted", bad)
		}
	}
}

type sessionStats struct {
	user        int64
	first, last int64 // arrivals
	firstIdx    int
	n           int
}

func sessions(ev []Event) map[int64]*sessionStats {
	m := map[int64]*sessionStats{}
	for i, e := range ev {
		s := m[e.SessionID]
		if s == nil {
			s = &sessionStats{user: e.UserID, first: e.Arrival, firstIdx: i}
			m[e.SessionID] = s
		}
		if s.user != e.UserID {
			panic("session changes user")
		}
		s.last = e.Arrival
		s.n++
	}
	return m
}

func TestSessions(t *testing.T) {
	// 100 slots (1000/s * 0.1 s): 2000 events per slot, so every session
	// starting in the first half ends long before the stream does.
	const n = 200000
	cfg := Config{Rate: 1000, ThinkMean: 100 * time.Millisecond, Users: 1000, SessionMean: 8, Seed: 11}
	g := mustGen(t, cfg)
	if g.Sessions() != 100 || g.ThinkTime() != 100*time.Millisecond {
		t.Fatalf("sessions %d, think time %v; want 100 and 100ms", g.Sessions(), g.ThinkTime())
	}
	ev := events(g, n)

	byID := sessions(ev)
	lengths := map[int]int{}
	total, count := 0, 0
	var gapSum float64
	gaps := 0
	prev := map[int64]int64{}
	for _, e := range ev {
		if p, ok := prev[e.SessionID]; ok {
			gapSum += float64(e.Arrival - p)
			gaps++
		}
		prev[e.SessionID] = e.Arrival
	}
	for _, s := range byID {
		if s.firstIdx >= n/2 {
			continue
		}
		lengths[s.n]++
		total += s.n
		count++
	}
	mean := float64(total) / float64(count)
	// Geometric with p = 1/8: mean 8, sd sqrt(56); count is ~12,000 sessions.
	if se := math.Sqrt(56 / float64(count)); math.Abs(mean-8) > 5*se {
		t.Errorf("mean session length %.3f over %d sessions, want 8 ± %.3f", mean, count, 5*se)
	}
	for k := 1; k <= 5; k++ {
		p := math.Pow(7.0/8, float64(k-1)) / 8
		want := p * float64(count)
		if got := float64(lengths[k]); math.Abs(got-want) > 5*math.Sqrt(want) {
			t.Errorf("%d sessions of length %d, want %.0f (geometric)", lengths[k], k, want)
		}
	}
	// Think time: exponential gaps between a session's events, mean K/rate.
	if m := gapSum / float64(gaps) / 1e3; math.Abs(m-100) > 2 {
		t.Errorf("mean think time %.2f ms over %d gaps, want 100 ms", m, gaps)
	}

	// A user is in one session at a time: per user, session spans do not overlap.
	perUser := map[int64][]*sessionStats{}
	for _, s := range byID {
		perUser[s.user] = append(perUser[s.user], s)
	}
	for u, ss := range perUser {
		sort.Slice(ss, func(i, j int) bool { return ss[i].first < ss[j].first })
		for i := 1; i < len(ss); i++ {
			if ss[i].first < ss[i-1].last {
				t.Fatalf("user %d in two sessions at once: [%d, %d] and [%d, %d]", u, ss[i-1].first, ss[i-1].last, ss[i].first, ss[i].last)
			}
		}
	}
	if len(perUser) < 900 {
		t.Errorf("only %d of 1000 users had sessions", len(perUser))
	}
}

func TestSessionCapByUsers(t *testing.T) {
	g := mustGen(t, Config{Rate: 10000, ThinkMean: 30 * time.Second, Users: 5000})
	if g.Sessions() != 5000 || g.ThinkTime() != 500*time.Millisecond {
		t.Fatalf("sessions %d, think %v; want 5000 users' worth and 500ms", g.Sessions(), g.ThinkTime())
	}
	g = mustGen(t, Config{Rate: 1e6, ThinkMean: 30 * time.Second, Users: MaxUsers / 1000, MaxSessions: 1000})
	if g.Sessions() != 1000 {
		t.Fatalf("sessions %d, want the cap 1000", g.Sessions())
	}
}

func TestEventKindsAndCategories(t *testing.T) {
	const n = 200000
	cfg := Config{Rate: 1000, ThinkMean: time.Second, Users: 20000, Items: 2000, Categories: 10,
		CategoryAffinity: 0.8, CartProb: 0.05, PurchaseProb: 0.02, Seed: 9}
	ev := events(mustGen(t, cfg), n)
	last := map[int64]int64{}
	kinds := [3]int{}
	later := 0
	sameCat, pairs := 0, 0
	catCount := make([]float64, cfg.Categories)
	for _, e := range ev {
		kinds[e.Kind]++
		p, seen := last[e.SessionID]
		if !seen && e.Kind != View {
			t.Fatalf("session %d starts with %s", e.SessionID, e.Kind)
		}
		if seen {
			later++
			if e.Kind != View && e.ItemID != p {
				t.Fatalf("%s of item %d after item %d", e.Kind, e.ItemID, p)
			}
			if e.Kind == View {
				pairs++
				if (e.ItemID-1)%10 == (p-1)%10 {
					sameCat++
				}
			}
		}
		catCount[(e.ItemID-1)%10]++
		last[e.SessionID] = e.ItemID
	}
	for k, want := range map[Kind]float64{Cart: 0.05, Purchase: 0.02} {
		exp := want * float64(later)
		if got := float64(kinds[k]); math.Abs(got-exp) > 5*math.Sqrt(exp) {
			t.Errorf("%d %s events, want %.0f (%.0f%% of %d non-first events)", kinds[k], k, exp, want*100, later)
		}
	}
	// Without affinity two views land in one category with probability
	// sum p_c^2; with it, at least affinity^2 of pairs do.
	var base float64
	for _, c := range catCount {
		base += (c / n) * (c / n)
	}
	if f := float64(sameCat) / float64(pairs); f < 0.8*0.8 || f < base+0.3 {
		t.Errorf("consecutive views in one category: %.3f (independent: %.3f)", f, base)
	}
}

func TestLagBoundedByMaxDelay(t *testing.T) {
	const d = 250 * time.Millisecond
	ev := events(mustGen(t, Config{Rate: 20000, MaxDelay: d, Seed: 2}), 100000)
	bound := d.Microseconds()
	var maxLag, sum int64
	maxTS := ev[0].TS
	for i, e := range ev {
		lag := e.Arrival - e.TS
		if lag < 0 || lag >= bound {
			t.Fatalf("event %d: lag %d µs outside [0, %d)", i, lag, bound)
		}
		// A watermark of max(ts) - max_delay never finds a late event.
		if e.TS < maxTS-bound {
			t.Fatalf("event %d: ts %d is behind the watermark %d", i, e.TS, maxTS-bound)
		}
		maxTS = max(maxTS, e.TS)
		maxLag = max(maxLag, lag)
		sum += lag
	}
	if maxLag < bound*99/100 {
		t.Errorf("largest lag %d µs, want close to %d", maxLag, bound)
	}
	if m := float64(sum) / float64(len(ev)); math.Abs(m-float64(bound)/2) > float64(bound)*0.01 {
		t.Errorf("mean lag %.0f µs, want %d (uniform)", m, bound/2)
	}
	// Out of order indeed: ts is not sorted.
	inversions := 0
	for i := 1; i < len(ev); i++ {
		if ev[i].TS < ev[i-1].TS {
			inversions++
		}
	}
	if inversions < len(ev)/4 {
		t.Errorf("only %d ts inversions with a 250 ms delay", inversions)
	}
	// A sub-microsecond delay leaves ts in order.
	for _, e := range events(mustGen(t, Config{MaxDelay: 500 * time.Nanosecond}), 1000) {
		if e.TS != e.Arrival {
			t.Fatalf("lag %d with a 500ns max delay", e.Arrival-e.TS)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for name, cfg := range map[string]Config{
		"negative rate":       {Rate: -1},
		"NaN rate":            {Rate: math.NaN()},
		"negative zipf":       {ZipfS: -1},
		"too many items":      {Items: MaxItems + 1},
		"negative users":      {Users: -3},
		"session mean < 1":    {SessionMean: 0.5},
		"categories > items":  {Items: 10, Categories: 11},
		"affinity > 1":        {CategoryAffinity: 1.5},
		"cart+purchase > 1":   {CartProb: 0.6, PurchaseProb: 0.6},
		"negative max delay":  {MaxDelay: -time.Second},
		"negative think time": {ThinkMean: -time.Second},
	} {
		if _, err := NewGenerator(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestNextDoesNotAllocate(t *testing.T) {
	g := mustGen(t, Config{MaxDelay: time.Second})
	var e Event
	if n := testing.AllocsPerRun(10000, func() { g.Next(&e) }); n != 0 {
		t.Fatalf("Next allocates %v times per event", n)
	}
}

func TestKindString(t *testing.T) {
	if View.String() != "view" || Cart.String() != "cart" || Purchase.String() != "purchase" || Kind(7).String() != "Kind(7)" {
		t.Fatal("kind names")
	}
}

func BenchmarkGenerate(b *testing.B) {
	g := mustGen(b, Config{Rate: 10000, Users: 100000, Items: 5000, MaxDelay: time.Second})
	var e Event
	b.ResetTimer()
	for range b.N {
		g.Next(&e)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkGenerateLarge(b *testing.B) {
	// A million items, 300,000 concurrent sessions: tables beyond the caches.
	g := mustGen(b, Config{Rate: 10000, Users: 1000000, Items: 1000000, MaxDelay: time.Second})
	var e Event
	b.ResetTimer()
	for range b.N {
		g.Next(&e)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
