// Command gen writes the drift benchmark's data: a reference and a current
// CSV of N rows × 20 numeric + 2 categorical columns with ~1% missing
// values; the current data drifts in f0 (shift), f1 (scale), f2 (shift)
// and c0 (category mix). Output is deterministic for a given seed.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
)

func main() {
	rows := flag.Int("rows", 1_000_000, "rows to write")
	out := flag.String("out", "", "output CSV path")
	drift := flag.Bool("drift", false, "write the drifted (current) variant")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "gen: -out is required")
		os.Exit(2)
	}
	if err := write(*out, *rows, *drift, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func write(path string, rows int, drift bool, seed uint64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	r := rand.New(rand.NewPCG(seed, 42))
	for i := range 20 {
		fmt.Fprintf(w, "f%d,", i)
	}
	w.WriteString("c0,c1\n")
	cats0 := []string{"retail", "travel", "food", "online", "other"}
	var buf []byte
	for range rows {
		buf = buf[:0]
		for j := range 20 {
			if r.IntN(100) == 0 {
				buf = append(buf, ',')
				continue
			}
			v := r.NormFloat64()*float64(j+1) + float64(j)
			if j%3 == 1 {
				v = r.ExpFloat64() * float64(j+1) // skewed columns
			}
			if drift {
				switch j {
				case 0:
					v += 0.5
				case 1:
					v *= 1.5
				case 2:
					v += 1.0
				}
			}
			buf = strconv.AppendFloat(buf, v, 'f', 4, 64)
			buf = append(buf, ',')
		}
		if r.IntN(100) != 0 {
			k := r.IntN(10)
			if k >= len(cats0) {
				k = 0 // retail is the most common
			}
			if drift && r.IntN(4) == 0 {
				k = 3 // more online
			}
			buf = append(buf, cats0[k]...)
		}
		buf = append(buf, ',')
		if r.IntN(100) != 0 {
			buf = append(buf, 'm')
			buf = strconv.AppendInt(buf, int64(r.IntN(50)), 10)
		}
		buf = append(buf, '\n')
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}
