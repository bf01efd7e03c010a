package filter

import (
	"encoding/json"
	"errors"
	"reflect"
	"sync"
	"time"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
	"github.com/google/cel-go/interpreter"

	"github.com/bluehq/webhooks/internal/event"
)

// varName is the one variable a filter sees.
const varName = "event"

// The keys of the event map, in the order its iterator yields them.
const (
	keyID            = "id"
	keyType          = "type"
	keyOccurredAt    = "occurredAt"
	keyCompanyID     = "companyId"
	keyProjectID     = "projectId"
	keyActorID       = "actorId"
	keyCurrentValue  = "currentValue"
	keyPreviousValue = "previousValue"
)

var eventKeys = []string{keyID, keyType, keyOccurredAt, keyCompanyID, keyProjectID, keyActorID, keyCurrentValue, keyPreviousValue}

// Activation binds the variable event to one envelope. It decodes
// currentValue and previousValue lazily, each at most once, the first time an
// expression reads it: a filter on event.type never decodes the JSON, and
// several filters evaluated on one Activation share one decoding. An
// Activation is safe for concurrent use; the envelope must not change while
// it is in use.
type Activation struct {
	e          *event.Envelope
	cur, prev  lazyJSON
	whole      sync.Once
	wholeValue traits.Mapper
}

// NewActivation returns the Activation of e. It returns an error only if e
// is nil; a value that is not valid JSON makes the evaluations that read it
// fail with an error wrapping ErrEval.
func NewActivation(e *event.Envelope) (*Activation, error) {
	if e == nil {
		return nil, errors.New("filter: nil envelope")
	}
	return &Activation{e: e}, nil
}

// ResolveName implements interpreter.Activation.
func (a *Activation) ResolveName(name string) (any, bool) {
	if name == varName {
		return (*eventMap)(a), true
	}
	return nil, false
}

// Parent implements interpreter.Activation.
func (a *Activation) Parent() interpreter.Activation { return nil }

// lazyJSON is a JSON value decoded on first use.
type lazyJSON struct {
	once sync.Once
	val  ref.Val
}

func (l *lazyJSON) get(raw json.RawMessage, name string) ref.Val {
	l.once.Do(func() {
		if len(raw) == 0 {
			l.val = types.NullValue
			return
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			l.val = types.NewErr("%s is not valid JSON: %v", name, err)
			return
		}
		l.val = types.DefaultTypeAdapter.NativeToValue(v)
	})
	return l.val
}

// eventMap is the CEL value of the variable event: a map(string, dyn) whose
// entries are computed on demand.
type eventMap Activation

var _ traits.Mapper = (*eventMap)(nil)

// Find implements traits.Mapper.
func (m *eventMap) Find(key ref.Val) (ref.Val, bool) {
	k, ok := key.(types.String)
	if !ok {
		if types.IsUnknownOrError(key) {
			return key, false
		}
		return nil, false
	}
	e := m.e
	switch string(k) {
	case keyID:
		return types.String(e.ID), true
	case keyType:
		return types.String(e.Type), true
	case keyOccurredAt:
		return types.String(e.OccurredAt.Format(time.RFC3339Nano)), true
	case keyCompanyID:
		return types.String(e.CompanyID), true
	case keyProjectID:
		return types.String(e.ProjectID), true
	case keyActorID:
		return types.String(e.ActorID), true
	case keyCurrentValue:
		v := m.cur.get(e.CurrentValue, keyCurrentValue)
		return v, !types.IsError(v)
	case keyPreviousValue:
		v := m.prev.get(e.PreviousValue, keyPreviousValue)
		return v, !types.IsError(v)
	}
	return nil, false
}

// Get implements traits.Indexer.
func (m *eventMap) Get(key ref.Val) ref.Val {
	v, found := m.Find(key)
	if found {
		return v
	}
	if v != nil { // an error or unknown
		return v
	}
	return types.NewErr("no such key: %v", key)
}

// Contains implements traits.Container.
func (m *eventMap) Contains(key ref.Val) ref.Val {
	k, ok := key.(types.String)
	if !ok {
		return types.False
	}
	for _, name := range eventKeys {
		if string(k) == name {
			return types.True
		}
	}
	return types.False
}

// Size implements traits.Sizer.
func (m *eventMap) Size() ref.Val { return types.Int(len(eventKeys)) }

// Iterator implements traits.Iterable; it yields the keys.
func (m *eventMap) Iterator() traits.Iterator {
	return types.NewStringList(types.DefaultTypeAdapter, eventKeys).Iterator()
}

// materialize returns the whole map, decoding both values; for the rare
// operations on the map as a whole (equality, conversion).
func (m *eventMap) materialize() traits.Mapper {
	m.whole.Do(func() {
		entries := make(map[ref.Val]ref.Val, len(eventKeys))
		for _, k := range eventKeys {
			entries[types.String(k)] = m.Get(types.String(k))
		}
		m.wholeValue = types.NewRefValMap(types.DefaultTypeAdapter, entries)
	})
	return m.wholeValue
}

// ConvertToNative implements ref.Val.
func (m *eventMap) ConvertToNative(typeDesc reflect.Type) (any, error) {
	return m.materialize().ConvertToNative(typeDesc)
}

// ConvertToType implements ref.Val.
func (m *eventMap) ConvertToType(typeValue ref.Type) ref.Val {
	switch typeValue {
	case types.MapType:
		return m
	case types.TypeType:
		return types.MapType
	}
	return types.NewErr("type conversion error from map to '%s'", typeValue)
}

// Equal implements ref.Val.
func (m *eventMap) Equal(other ref.Val) ref.Val {
	if o, ok := other.(*eventMap); ok && o == m {
		return types.True
	}
	return m.materialize().Equal(other)
}

// Type implements ref.Val.
func (m *eventMap) Type() ref.Type { return types.MapType }

// Value implements ref.Val.
func (m *eventMap) Value() any { return m.materialize().Value() }
