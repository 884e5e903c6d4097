// Package page describes the pagination every list endpoint shares:
// ?page=1&limit=10 in, {items, page, limit, total} out.
package page

// Limits of a page.
const (
	DefaultLimit = 10
	MaxLimit     = 100
)

// Request asks for one page of a list; Number counts from 1.
type Request struct {
	Number int
	Limit  int
}

// Skip is how many items come before the page.
func (r Request) Skip() int64 { return int64(r.Number-1) * int64(r.Limit) }

// Of is one page of a list and the size of the whole list.
type Of[T any] struct {
	Items []T
	Request
	Total int64
}
