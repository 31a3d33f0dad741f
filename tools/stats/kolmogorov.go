package stats

import (
	"math"
)

// KolmogorovSF is Pr(D_n >= x) for the two-sided one-sample Kolmogorov-
// Smirnov statistic: scipy.stats.kstwo.sf(x, n), ported from scipy 1.10's
// _ksstats._kolmogn (Simard and L'Ecuyer's choice among the Durbin matrix,
// Pomeranz, Pelz-Good and Smirnov computations).
func KolmogorovSF(n int, x float64) float64 {
	if n <= 0 || math.IsNaN(x) {
		return math.NaN()
	}
	if x >= 1.0 {
		return 0
	}
	if x <= 0.0 {
		return 1
	}
	fn := float64(n)
	t := fn * x
	if t <= 1.0 { // Ruben-Gambino
		if t <= 0.5 {
			return 1
		}
		var prob float64
		if n <= 140 {
			prob = 1.0
			for i := 1; i <= n; i++ {
				prob *= float64(i) * (1.0 / fn) * (2*t - 1)
			}
		} else {
			prob = math.Exp(logNFactorialDivNPowN(fn) + fn*math.Log(2*t-1))
		}
		return clip01(1.0 - prob)
	}
	if t >= fn-1 {
		return clip01(2 * math.Pow(1.0-x, fn))
	}
	if x >= 0.5 {
		return clip01(2 * SmirnovSF(n, x))
	}
	nxsquared := t * x
	if n <= 140 {
		if nxsquared <= 0.754693 {
			return clip01(1.0 - kolmognDMTW(n, x))
		}
		if nxsquared <= 4 {
			return clip01(1.0 - kolmognPomeranz(n, x))
		}
		return clip01(2 * SmirnovSF(n, x))
	}
	if nxsquared >= 370.0 {
		return 0
	}
	if nxsquared >= 2.2 {
		return clip01(2 * SmirnovSF(n, x))
	}
	var cdf float64
	switch {
	case nxsquared >= 18.0:
		cdf = 1.0
	case n <= 100000 && fn*math.Pow(x, 1.5) <= 1.4:
		cdf = kolmognDMTW(n, x)
	default:
		cdf = kolmognPelzGood(n, x)
	}
	return clip01(1.0 - cdf)
}

var stirlingCoeffs = []float64{-2.955065359477124183e-2, 6.4102564102564102564e-3,
	-1.9175269175269175269e-3, 8.4175084175084175084e-4,
	-5.952380952380952381e-4, 7.9365079365079365079e-4,
	-2.7777777777777777778e-3, 8.3333333333333333333e-2}

func polyval(c []float64, x float64) float64 {
	r := 0.0
	for _, v := range c {
		r = r*x + v
	}
	return r
}

// logNFactorialDivNPowN is log(n!/n^n) by Stirling with n log n removed.
func logNFactorialDivNPowN(n float64) float64 {
	rn := 1.0 / n
	return math.Log(n)/2 - n + math.Log(2*math.Pi)/2 + rn*polyval(stirlingCoeffs, rn/n)
}

const e128 = 128

var ep128, em128 = math.Ldexp(1, 128), math.Ldexp(1, -128)

// kolmognDMTW is the Marsaglia-Tsang-Wang form of Durbin's matrix
// algorithm for Pr(D_n <= d).
func kolmognDMTW(n int, d float64) float64 {
	if d >= 1.0 {
		return 1
	}
	nd := float64(n) * d
	if nd <= 0.5 {
		return 0
	}
	k := int(math.Ceil(nd))
	h := float64(k) - nd
	m := 2*k - 1
	H := newMat(m)
	v := make([]float64, m)
	w := make([]float64, m)
	fac := 1.0
	for j := 1; j <= m; j++ {
		v[j-1] = 1.0 - math.Pow(h, float64(j))
		w[j-1] = fac
		fac /= float64(j)
		v[j-1] *= fac
	}
	tt := math.Pow(math.Max(2*h-1.0, 0), float64(m)) - 2*math.Pow(h, float64(m))
	v[m-1] = (1.0 + tt) * fac
	for i := 1; i < m; i++ {
		for r := i - 1; r < m; r++ {
			H.set(r, i, w[r-(i-1)])
		}
	}
	for r := 0; r < m; r++ {
		H.set(r, 0, v[r])
	}
	for c := 0; c < m; c++ {
		H.set(m-1, c, v[m-1-c])
	}
	Hpwr := identity(m)
	nn := n
	expnt, Hexpnt := 0, 0
	for nn > 0 {
		if nn%2 == 1 {
			Hpwr = matmul(Hpwr, H)
			expnt += Hexpnt
		}
		H = matmul(H, H)
		Hexpnt *= 2
		if math.Abs(H.at(k-1, k-1)) > ep128 {
			H.scale(1 / ep128)
			Hexpnt += e128
		}
		nn /= 2
	}
	p := Hpwr.at(k-1, k-1)
	for i := 1; i <= n; i++ {
		p = float64(i) * p / float64(n)
		if math.Abs(p) < em128 {
			p *= ep128
			expnt -= e128
		}
	}
	if expnt != 0 {
		p = math.Ldexp(p, expnt)
	}
	return clip01(p)
}

type mat struct {
	n int
	v []float64
}

func newMat(n int) mat                { return mat{n, make([]float64, n*n)} }
func (a mat) at(r, c int) float64     { return a.v[r*a.n+c] }
func (a mat) set(r, c int, x float64) { a.v[r*a.n+c] = x }
func (a mat) scale(f float64) {
	for i := range a.v {
		a.v[i] *= f
	}
}
func identity(n int) mat {
	m := newMat(n)
	for i := 0; i < n; i++ {
		m.set(i, i, 1)
	}
	return m
}

func matmul(a, b mat) mat {
	n := a.n
	out := newMat(n)
	for i := 0; i < n; i++ {
		row := out.v[i*n : (i+1)*n]
		for k := 0; k < n; k++ {
			aik := a.v[i*n+k]
			if aik == 0 {
				continue
			}
			bk := b.v[k*n : (k+1)*n]
			for j := range row {
				row[j] += aik * bk[j]
			}
		}
	}
	return out
}

func pomeranzJ1J2(i, n, ll, ceilf, roundf int) (int, int) {
	var j1, j2 int
	if i == 0 {
		j1, j2 = -ll-ceilf-1, ll+ceilf-1
	} else {
		ip1div2, ip1mod2 := (i+1)/2, (i+1)%2
		if ip1mod2 == 0 {
			if ip1div2 == n+1 {
				j1, j2 = n-ll-ceilf-1, n+ll+ceilf-1
			} else {
				j1, j2 = ip1div2-1-ll-roundf-1, ip1div2+ll-1+ceilf-1
			}
		} else {
			j1, j2 = ip1div2-1-ll-1, ip1div2+ll+roundf-1
		}
	}
	return max(j1+2, 0), min(j2, n)
}

// kolmognPomeranz is Pomeranz's recursion for Pr(D_n <= x).
func kolmognPomeranz(n int, x float64) float64 {
	fn := float64(n)
	t := fn * x
	ll := int(math.Floor(t))
	f := t - float64(ll)
	g := math.Min(f, 1.0-f)
	ceilf, roundf := 0, 0
	if f > 0 {
		ceilf = 1
	}
	if f > 0.5 {
		roundf = 1
	}
	npwrs := 2 * (ll + 1)
	gpower := make([]float64, npwrs)
	twogpower := make([]float64, npwrs)
	onem2gpower := make([]float64, npwrs)
	gpower[0], twogpower[0], onem2gpower[0] = 1, 1, 1
	expnt := 0
	gOverN, twoGOverN, oneMinusTwoGOverN := g/fn, 2*g/fn, (1-2*g)/fn
	for m := 1; m < npwrs; m++ {
		gpower[m] = gpower[m-1] * gOverN / float64(m)
		twogpower[m] = twogpower[m-1] * twoGOverN / float64(m)
		onem2gpower[m] = onem2gpower[m-1] * oneMinusTwoGOverN / float64(m)
	}
	V0 := make([]float64, npwrs)
	V1 := make([]float64, npwrs)
	V1[0] = 1
	V0s, V1s := 0, 0
	j1, j2 := pomeranzJ1J2(0, n, ll, ceilf, roundf)
	conv := make([]float64, 2*npwrs)
	for i := 1; i < 2*n+2; i++ {
		k1 := j1
		V0, V1 = V1, V0
		V0s, V1s = V1s, V0s
		for q := range V1 {
			V1[q] = 0
		}
		j1, j2 = pomeranzJ1J2(i, n, ll, ceilf, roundf)
		var pwrs []float64
		switch {
		case i == 1 || i == 2*n+1:
			pwrs = gpower
		case i%2 == 1:
			pwrs = twogpower
		default:
			pwrs = onem2gpower
		}
		ln2 := j2 - k1 + 1
		if ln2 > 0 {
			// np.convolve(V0[k1-V0s : k1-V0s+ln2], pwrs[:ln2]) in full mode;
			// numpy clips the slice at the array's end.
			lo := k1 - V0s
			hi := min(lo+ln2, len(V0))
			a := V0[lo:hi]
			b := pwrs[:min(ln2, len(pwrs))]
			clen := len(a) + len(b) - 1
			for q := 0; q < clen; q++ {
				conv[q] = 0
			}
			for p, av := range a {
				if av == 0 {
					continue
				}
				for q, bv := range b {
					conv[p+q] += av * bv
				}
			}
			convStart := j1 - k1
			convLen := j2 - j1 + 1
			maxv := 0.0
			for q := 0; q < convLen; q++ {
				if convStart+q < clen {
					V1[q] = conv[convStart+q]
				}
				maxv = math.Max(maxv, V1[q])
			}
			if maxv > 0 && maxv < em128 {
				for q := range V1 {
					V1[q] *= ep128
				}
				expnt -= e128
			}
			V1s = V0s + j1 - k1
		}
	}
	ans := V1[n-V1s]
	for m := 1; m <= n; m++ {
		if math.Abs(ans) > ep128 {
			ans *= em128
			expnt += e128
		}
		ans *= float64(m)
	}
	if expnt != 0 {
		ans = math.Ldexp(ans, expnt)
	}
	return clip01(ans)
}

// kolmognPelzGood is the Pelz-Good approximation to Pr(D_n <= x).
func kolmognPelzGood(n int, x float64) float64 {
	if x <= 0 {
		return 0
	}
	if x >= 1 {
		return 1
	}
	fn := float64(n)
	z := math.Sqrt(fn) * x
	zsquared, zthree, zfour, zsix := z*z, z*z*z, math.Pow(z, 4), math.Pow(z, 6)
	qlog := -math.Pi * math.Pi / 8 / zsquared
	if qlog < -708 {
		return 0
	}
	q := math.Exp(qlog)
	pi2, pi4, pi6 := math.Pi*math.Pi, math.Pow(math.Pi, 4), math.Pow(math.Pi, 6)
	k1a := -zsquared
	k1b := pi2 / 4
	k2a := 6*zsix + 2*zfour
	k2b := (2*zfour - 5*zsquared) * pi2 / 4
	k2c := pi4 * (1 - 2*zsquared) / 16
	k3d := pi6 * (5 - 30*zsquared) / 64
	k3c := pi4 * (-60*zsquared + 212*zfour) / 16
	k3b := pi2 * (135*zfour - 96*zsix) / 4
	k3a := -30*zsix - 90*math.Pow(z, 8)
	var K [4]float64
	maxk := int(math.Ceil(16 * z / math.Pi))
	for k := maxk; k > 0; k-- {
		m := float64(2*k - 1)
		msq, m4, m6 := m*m, math.Pow(m, 4), math.Pow(m, 6)
		qpower := math.Pow(q, float64(8*k))
		coeffs := [4]float64{1.0, k1a + k1b*msq, k2a + k2b*msq + k2c*m4, k3a + k3b*msq + k3c*m4 + k3d*m6}
		for i := range K {
			K[i] = K[i]*qpower + coeffs[i]
		}
	}
	sqrt2pi := math.Sqrt(2 * math.Pi)
	div := [4]float64{z, 6 * zfour, 72 * math.Pow(z, 7), 6480 * math.Pow(z, 10)}
	for i := range K {
		K[i] = K[i] * q * sqrt2pi / div[i]
	}
	q = math.Exp(-pi2 / 2 / zsquared)
	sqrt3z := math.Sqrt(3) * z
	var k2extra, k3extra float64
	for k := maxk; k > 0; k-- {
		fk := float64(k)
		ksq := fk * fk
		qp := math.Pow(q, ksq)
		k2extra += ksq * qp
		kspi := math.Pi * fk
		k3extra += (sqrt3z + kspi) * (sqrt3z - kspi) * ksq * qp
	}
	K[2] += k2extra * pi2 * sqrt2pi / (-36 * zthree)
	K[3] += k3extra * pi2 * sqrt2pi / (216 * zsix)
	sum := 0.0
	for i := range K {
		sum += K[i] / math.Pow(fn, float64(i)/2)
	}
	return sum
}

// SmirnovSF is Pr(D_n^+ >= x), the one-sided Smirnov statistic's survival
// function (scipy.special.smirnov), by the exact Birnbaum-Tingey sum
// evaluated in log space so that large n neither overflows nor underflows.
func SmirnovSF(n int, x float64) float64 {
	if n <= 0 || math.IsNaN(x) || x < 0 || x > 1 {
		return math.NaN()
	}
	if x == 0 {
		return 1
	}
	if x == 1 {
		return 0
	}
	fn := float64(n)
	nn := int(math.Floor(fn * (1.0 - x)))
	lgn1, _ := math.Lgamma(fn + 1)
	sum := 0.0
	var maxT float64 = math.Inf(-1)
	terms := make([]float64, 0, 64)
	for v := 0; v <= nn; v++ {
		evn := x + float64(v)/fn
		omevn := 1.0 - evn
		if omevn <= 0 {
			continue
		}
		lv1, _ := math.Lgamma(float64(v) + 1)
		lnv1, _ := math.Lgamma(fn - float64(v) + 1)
		t := lgn1 - lv1 - lnv1 + float64(v-1)*math.Log(evn) + (fn-float64(v))*math.Log1p(-evn)
		if t > maxT {
			maxT = t
		}
		terms = append(terms, t)
		// Terms fall off fast once past the peak; stop when negligible.
		if t < maxT-50 && v > 10 {
			break
		}
	}
	for _, t := range terms {
		sum += math.Exp(t - maxT)
	}
	return clip01(x * sum * math.Exp(maxT))
}
