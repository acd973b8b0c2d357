package imagesvc

// orientation is one of the eight ways to lay an image down again by
// rotations and mirrors: k + 4*m means mirror left-right when m is 1, then
// rotate k x 90 degrees clockwise. Any run of rotate, flip and flop operations
// is one orientation, and every other operation can be moved across it by
// transforming its coordinates, which lets the planner apply rotations last,
// once, on the smallest image.
type orientation uint8

const identity orientation = 0

// matrix is the orientation acting on pixel-centred coordinates (x to the
// right, y down): (u, v) -> (a*u + b*v, c*u + d*v).
type matrix struct{ a, b, c, d int }

func (o orientation) matrix() matrix {
	m := matrix{1, 0, 0, 1}
	if o&4 != 0 {
		m = matrix{-1, 0, 0, 1} // mirror left-right
	}
	for range o & 3 {
		// clockwise quarter turn: (u, v) -> (-v, u)
		m = matrix{-m.c, -m.d, m.a, m.b}
	}
	return m
}

func orientationOf(m matrix) orientation {
	for o := range orientation(8) {
		if o.matrix() == m {
			return o
		}
	}
	panic("imagesvc: not an orientation matrix") // products of orientations always are
}

// then is o followed by g.
func (o orientation) then(g orientation) orientation {
	a, b := o.matrix(), g.matrix()
	return orientationOf(matrix{
		b.a*a.a + b.b*a.c, b.a*a.b + b.b*a.d,
		b.c*a.a + b.d*a.c, b.c*a.b + b.d*a.d,
	})
}

// inverse undoes o (the matrices are orthogonal: the inverse is the transpose).
func (o orientation) inverse() orientation {
	m := o.matrix()
	return orientationOf(matrix{m.a, m.c, m.b, m.d})
}

// swapsAxes says whether o turns a w x h image into an h x w one.
func (o orientation) swapsAxes() bool { return o&1 == 1 }

// size is the size of a w x h image after o.
func (o orientation) size(d dims) dims {
	if o.swapsAxes() {
		return dims{d.h, d.w}
	}
	return d
}

// rect is an area of pixels.
type rect struct{ x, y, w, h int }

// mapRect maps an area of a frame of size d to where o puts it.
func (o orientation) mapRect(r rect, d dims) rect {
	m := o.matrix()
	out := o.size(d)
	// doubled centred coordinates keep the arithmetic in integers
	point := func(x, y int) (int, int) {
		u, v := 2*x-(d.w-1), 2*y-(d.h-1)
		u2, v2 := m.a*u+m.b*v, m.c*u+m.d*v
		return (u2 + out.w - 1) / 2, (v2 + out.h - 1) / 2
	}
	x0, y0 := point(r.x, r.y)
	x1, y1 := point(r.x+r.w-1, r.y+r.h-1)
	return rect{min(x0, x1), min(y0, y1), max(x0, x1) - min(x0, x1) + 1, max(y0, y1) - min(y0, y1) + 1}
}

// Orientations of the chain's geometric operations.
const (
	rotate90  orientation = 1
	rotate180 orientation = 2
	rotate270 orientation = 3
	mirrorLR  orientation = 4 // flop
	mirrorTB  orientation = 6 // flip: mirror left-right, then half a turn
)
