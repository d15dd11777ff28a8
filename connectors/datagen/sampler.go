package datagen

import (
	"fmt"
	"math"
	"math/bits"
)

// rng is wyrand: a 64-bit generator with one add and one 128-bit multiply
// per value. It is implemented here (instead of math/rand/v2) so that the
// stream of a seed is fixed by this package alone, and so that the hot
// path makes no interface calls.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0xa0761d6478bd642f
	hi, lo := bits.Mul64(r.s, r.s^0xe7037ed1a0b428db)
	return hi ^ lo
}

// float returns a uniform value in [0, 1).
func (r *rng) float() float64 { return float64(r.next()>>11) * 0x1p-53 }

// exp returns an exponential value with mean 1: -ln(1-U), U in [0, 1).
func (r *rng) exp() float64 { return -math.Log(1 - r.float()) }

// intn returns a value in [0, n) (Lemire's multiply-shift; the bias is at
// most n/2^64, far below anything measurable).
func (r *rng) intn(n uint64) uint64 {
	hi, _ := bits.Mul64(r.next(), n)
	return hi
}

// mix64 is the splitmix64 finaliser: a bijective hash of x.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// alias samples a discrete distribution in O(1) with Walker's alias method
// (Vose's construction): slot i is drawn uniformly, then kept with
// probability prob[i] or replaced by alias[i]. One 64-bit random value
// serves both draws: its high 32 bits choose the slot (multiply-shift),
// its low 32 bits are the coin. Weights may be any positive numbers, so
// Zipf laws with any exponent s > 0 (including s <= 1, which
// math/rand/v2's Zipf rejects) are sampled exactly, up to the 2^-32
// resolution of the coin.
type alias struct {
	prob  []uint32 // keep slot i when the coin < prob[i]
	alias []uint32
}

func newAlias(w []float64) (alias, error) {
	n := len(w)
	if n == 0 || uint64(n) > math.MaxUint32 {
		return alias{}, fmt.Errorf("datagen: alias table of %d entries", n)
	}
	var sum float64
	for _, x := range w {
		if !(x > 0) || math.IsInf(x, 0) {
			return alias{}, fmt.Errorf("datagen: weight %v is not a positive number", x)
		}
		sum += x
	}
	a := alias{prob: make([]uint32, n), alias: make([]uint32, n)}
	p := make([]float64, n)
	small := make([]uint32, 0, n)
	large := make([]uint32, 0, n)
	for i, x := range w {
		p[i] = x * float64(n) / sum
		if p[i] < 1 {
			small = append(small, uint32(i))
		} else {
			large = append(large, uint32(i))
		}
	}
	for len(small) > 0 && len(large) > 0 {
		s := small[len(small)-1]
		small = small[:len(small)-1]
		l := large[len(large)-1]
		a.prob[s] = uint32(p[s] * (1 << 32))
		a.alias[s] = l
		p[l] -= 1 - p[s]
		if p[l] < 1 {
			large = large[:len(large)-1]
			small = append(small, l)
		}
	}
	// What remains has probability 1 up to rounding: always kept.
	for _, i := range large {
		a.prob[i], a.alias[i] = math.MaxUint32, i
	}
	for _, i := range small {
		a.prob[i], a.alias[i] = math.MaxUint32, i
	}
	return a, nil
}

// sample maps one uniform 64-bit value to an index.
func (a *alias) sample(u uint64) uint32 {
	i := uint32(((u >> 32) * uint64(len(a.prob))) >> 32)
	if uint32(u) < a.prob[i] {
		return i
	}
	return a.alias[i]
}

// zipfWeights returns k^-s for k = first, first+step, ... (n values).
func zipfWeights(n, first, step int, s float64) []float64 {
	w := make([]float64, n)
	for i := range w {
		w[i] = math.Pow(float64(first+i*step), -s)
	}
	return w
}
