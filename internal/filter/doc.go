// Package filter compiles and evaluates webhook filter expressions.
//
// A filter is a CEL expression (https://cel.dev) over one variable, event,
// the event envelope as a map:
//
//	event.id            string
//	event.type          string, e.g. "TODO_CREATED"
//	event.occurredAt    string, RFC 3339 (use timestamp(event.occurredAt) to compare times)
//	event.companyId     string
//	event.projectId     string, "" for company-level events
//	event.actorId       string, "" for system events
//	event.currentValue  the decoded JSON value (maps, lists, strings, doubles, bools, null)
//	event.previousValue the decoded JSON value, null when there is none
//
// A webhook receives an event only if its filter evaluates to true. The
// expression must have type bool: a bare JSON field such as
// event.currentValue.done has type dyn and is refused; write
// event.currentValue.done == true. JSON numbers are doubles, and they compare
// with integer literals as numbers (event.currentValue.todoList.position >
// 1000 works).
//
// Examples customers use:
//
//	event.currentValue.todoList.id == "clakt9v5t000kvt64f563l90l"
//	event.type.startsWith("TODO_") && event.projectId in ["p1", "p2"]
//	event.currentValue.todoTags.exists(t, t.tag.title == "Urgent")
//	event.currentValue.todoUsers.exists(u, u.userId == "clb51q8zd0006vt1s2g9k4m7p")
//	event.type == "TODO_DONE_STATUS_CHANGED" && event.currentValue.done == true
//	has(event.currentValue.todoList) && event.currentValue.todoList.title in ["Doing", "Review"]
//	event.type.matches("^TODO_(TAG|ASSIGNEE)_") && event.currentValue.title.startsWith("[bug]")
//	event.currentValue.todoCustomFields.filter(f, f.customField.name == "Budget").map(f, f.value) !=
//	    event.previousValue.todoCustomFields.filter(f, f.customField.name == "Budget").map(f, f.value)
//	timestamp(event.occurredAt).getHours("Europe/Paris") >= 9
//
// # Missing fields
//
// Selecting a key that the JSON value does not have is a runtime error ("no
// such key"), and an event whose filter fails is treated as not matched.
// Events of different types carry different values (a comment has no
// todoList; previousValue is null on creation), so guard optional fields with
// has(): has(event.currentValue.todoList) && event.currentValue.todoList.id ==
// "L1". Because && and || in CEL ignore an error on one side when the other
// side decides the result, event.type == "TODO_MOVED" &&
// event.previousValue.todoList.id == "L1" is also safe on other event types.
//
// # Cost
//
// Expressions are bounded twice. At Check, an expression longer than
// MaxLength bytes is refused, and so is one whose estimated cost exceeds
// the cost limit. The estimate assumes that every list and map of the
// event has NominalSize entries, the envelope's own strings (ids, type,
// occurredAt) their 64 characters, and any other string that a string
// function works on (contains, matches, replace, split, join, lowerAscii,
// a concatenation with +) as many bytes as the largest event
// (WithMaxStringSize, DefaultMaxStringSize): such work on the values of
// the event is refused, as are, in practice, three nested comprehensions.
// Comparisons (==, <, in) and startsWith / endsWith with a literal are
// cheap. The second bound is the runtime cost limit (cel.CostLimit), which
// counts string sizes and stops any evaluation that exceeds it with an
// error wrapping ErrCostLimit, whatever the size of the event; only the
// call that crosses the limit runs to its end. Compile does not enforce
// the estimate, so that a filter saved under an older one keeps selecting
// events.
//
// # Library
//
// The standard CEL library, its macros (has, all, exists, exists_one, map,
// filter) and the strings extension (lowerAscii, split, replace, format, ...)
// are available. No function does I/O: the timestamp accessors that take a
// time zone read each zone from the system's tz database once per process,
// not at every evaluation as the standard library does.
package filter
