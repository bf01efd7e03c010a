package filter

import (
	"container/list"
	"sync"
)

// programCache is a least-recently-used cache of compiled programs keyed by
// expression text. It is safe for concurrent use.
type programCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // of *Program, most recently used first
	byKey map[string]*list.Element
}

func newProgramCache(max int) *programCache {
	return &programCache{max: max, order: list.New(), byKey: make(map[string]*list.Element)}
}

func (c *programCache) get(expr string) (*Program, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[expr]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*Program), true
}

// add stores p and returns the program cached for its expression: p, or the
// one another goroutine stored first.
func (c *programCache) add(p *Program) *Program {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[p.expr]; ok {
		c.order.MoveToFront(el)
		return el.Value.(*Program)
	}
	c.byKey[p.expr] = c.order.PushFront(p)
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.byKey, last.Value.(*Program).expr)
	}
	return p
}

func (c *programCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
