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
//	event.type == "COMMENT_CREATED" && event.currentValue.text.lowerAscii().contains("urgent")
//	has(event.currentValue.todoList) && event.currentValue.todoList.title.matches("^(Doing|Review)$")
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
// MaxLength bytes is refused, and so is one whose estimated cost on a
// typical event (every list, map and string of the event assumed to have at
// most NominalSize elements) exceeds the cost limit: in practice, three nested
// comprehensions. The estimate is a heuristic; the guarantee is the runtime
// cost limit (cel.CostLimit), which stops any evaluation that exceeds it with
// an error wrapping ErrCostLimit, whatever the size of the event.
//
// # Library
//
// The standard CEL library, its macros (has, all, exists, exists_one, map,
// filter) and the strings extension (lowerAscii, split, replace, format, ...)
// are available. No function does I/O: the timestamp accessors that take a
// time zone read each zone from the system's tz database once per process,
// not at every evaluation as the standard library does.
package filter
