package legged

import (
	"container/heap"
	"math"
)

// Planner parameters.
const (
	planCell   = 0.05 // m, grid resolution
	planMargin = 0.15 // m kept between the base's footprint and anything
	// goalBand is the widest footprint gap at which the planner's goal
	// cells lie: well inside StopDist, so stopping a little short or
	// long still succeeds.
	goalBand = 0.20
)

// plan returns waypoints from the base to a point near the goal object
// (index goal in w.Objects): a shortest 8-connected path over a grid of
// cells whose footprint, grown by planMargin, is clear (bars count as
// passable: the expert crawls under them), shortened to the cells it can
// see in straight lines. Nil if there is no path.
func plan(w *World, goal int) [][2]float64 {
	n := int(math.Ceil(2 * w.Half / planCell))
	at := func(i, j int) (float64, float64) {
		return -w.Half + (float64(i)+0.5)*planCell, -w.Half + (float64(j)+0.5)*planCell
	}
	free := make([]bool, n*n)
	isGoal := make([]bool, n*n)
	g := &w.Objects[goal]
	for i := range n {
		for j := range n {
			x, y := at(i, j)
			free[i*n+j] = crawlFree(w, x, y, BodyRadius+planMargin)
			if free[i*n+j] && FootprintDist(g, x, y)-BodyRadius <= goalBand {
				isGoal[i*n+j] = true
			}
		}
	}
	b := &w.Base
	si := clampInt(int((b.Pos[0]+w.Half)/planCell), 0, n-1)
	sj := clampInt(int((b.Pos[1]+w.Half)/planCell), 0, n-1)
	dist := make([]float64, n*n)
	prev := make([]int32, n*n)
	for k := range dist {
		dist[k] = math.Inf(1)
		prev[k] = -1
	}
	s := si*n + sj
	dist[s] = 0
	q := &pq{{s, 0}}
	end := -1
	for q.Len() > 0 {
		it := heap.Pop(q).(pqItem)
		if it.d > dist[it.k] {
			continue
		}
		if isGoal[it.k] {
			end = it.k
			break
		}
		i, j := it.k/n, it.k%n
		for di := -1; di <= 1; di++ {
			for dj := -1; dj <= 1; dj++ {
				ni, nj := i+di, j+dj
				if (di == 0 && dj == 0) || ni < 0 || nj < 0 || ni >= n || nj >= n {
					continue
				}
				k := ni*n + nj
				if !free[k] {
					continue
				}
				d := it.d + math.Hypot(float64(di), float64(dj))
				if d < dist[k] {
					dist[k], prev[k] = d, int32(it.k)
					heap.Push(q, pqItem{k, d})
				}
			}
		}
	}
	if end < 0 {
		return nil
	}
	var cells [][2]float64
	for k := end; k >= 0 && k != s; k = int(prev[k]) {
		x, y := at(k/n, k%n)
		cells = append(cells, [2]float64{x, y})
	}
	cells = append(cells, [2]float64{b.Pos[0], b.Pos[1]})
	for l, r := 0, len(cells)-1; l < r; l, r = l+1, r-1 {
		cells[l], cells[r] = cells[r], cells[l]
	}
	// Shortcut: from each kept point, jump to the farthest point in view.
	out := [][2]float64{}
	for i := 0; i < len(cells)-1; {
		j := len(cells) - 1
		for j > i+1 && !segmentFree(w, cells[i], cells[j]) {
			j--
		}
		out = append(out, cells[j])
		i = j
	}
	return out
}

// crawlFree is freeAt for a base low enough to pass under every bar.
func crawlFree(w *World, x, y, r float64) bool { return w.freeAt(x, y, r, 0) }

// segmentFree checks the straight move a→b every 2 cm, with a margin a
// little under the planner's so that a path's own cells always see each
// other.
func segmentFree(w *World, a, b [2]float64) bool {
	d := math.Hypot(b[0]-a[0], b[1]-a[1])
	n := int(d/0.02) + 1
	for k := 0; k <= n; k++ {
		t := float64(k) / float64(n)
		if !crawlFree(w, a[0]+t*(b[0]-a[0]), a[1]+t*(b[1]-a[1]), BodyRadius+planMargin-0.02) {
			return false
		}
	}
	return true
}

func clampInt(x, lo, hi int) int { return max(lo, min(hi, x)) }

type pqItem struct {
	k int
	d float64
}

type pq []pqItem

func (p pq) Len() int           { return len(p) }
func (p pq) Less(i, j int) bool { return p[i].d < p[j].d }
func (p pq) Swap(i, j int)      { p[i], p[j] = p[j], p[i] }
func (p *pq) Push(x any)        { *p = append(*p, x.(pqItem)) }
func (p *pq) Pop() any {
	old := *p
	it := old[len(old)-1]
	*p = old[:len(old)-1]
	return it
}
