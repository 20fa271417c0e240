package sim

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math"
	"os"
)

// BoxFilter writes into dst the size/f-sided RGB image whose pixels are the
// rounded means of f×f blocks of src (size×size RGB).
func BoxFilter(dst, src []byte, size, f int) {
	out := size / f
	n := f * f
	for y := range out {
		for x := range out {
			for c := range 3 {
				sum := 0
				for dy := range f {
					row := ((y*f+dy)*size + x*f) * 3
					for dx := range f {
						sum += int(src[row+dx*3+c])
					}
				}
				dst[(y*out+x)*3+c] = byte((sum + n/2) / n)
			}
		}
	}
}

// NPYStream writes a .npy array whose first dimension grows as rows are
// appended (a demonstration's frames, states, actions): the header is
// written with room for any row count and rewritten with the final count
// by Close.
type NPYStream struct {
	f     *os.File
	w     *bufio.Writer
	descr string
	tail  []int
	rows  int
	hlen  int
	row   int // bytes per row
	buf   []byte
}

// reservedRows sizes the placeholder header: any real count is shorter.
const reservedRows = math.MaxInt64

// CreateNPYStream creates path for rows of shape tail and dtype descr
// ("|u1", "<f4", …).
func CreateNPYStream(path, descr string, tail []int) (*NPYStream, error) {
	shape := append([]int{reservedRows}, tail...)
	h, err := npyHeader(descr, shape, 0)
	if err != nil {
		return nil, err
	}
	row, err := npyBytes(descr, tail, math.MaxInt64)
	if err != nil {
		return nil, err
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	s := &NPYStream{f: f, w: bufio.NewWriterSize(f, 1<<20), descr: descr, tail: tail, hlen: len(h), row: int(row)}
	if _, err := s.w.Write(h); err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

// RowBytes appends one row of raw bytes.
func (s *NPYStream) RowBytes(b []byte) error {
	if len(b) != s.row {
		return fmt.Errorf("sim: demo row has %d bytes, want %d", len(b), s.row)
	}
	s.rows++
	_, err := s.w.Write(b)
	return err
}

// RowFloats appends one row of float32 values (converted from float64).
func (s *NPYStream) RowFloats(v []float64) error {
	s.buf = s.buf[:0]
	for _, x := range v {
		s.buf = binary.LittleEndian.AppendUint32(s.buf, math.Float32bits(float32(x)))
	}
	return s.RowBytes(s.buf)
}

// Close writes the row count into the header and closes the file.
func (s *NPYStream) Close() error {
	if err := s.w.Flush(); err != nil {
		s.f.Close()
		return err
	}
	h, err := npyHeader(s.descr, append([]int{s.rows}, s.tail...), s.hlen)
	if err == nil && len(h) != s.hlen {
		err = fmt.Errorf("sim: npy header grew from %d to %d bytes", s.hlen, len(h))
	}
	if err == nil {
		_, err = s.f.WriteAt(h, 0)
	}
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Abort closes the file, leaving it incomplete (the caller removes it).
func (s *NPYStream) Abort() { s.f.Close() }
