package stream

// IncompatibleError is returned when the server, or a stream an operator
// created, is not one this code can run on as it is. Retrying does not help:
// an operator must act, and Msg says what to do.
type IncompatibleError struct {
	Msg string
	Err error // the server's answer, if there was one
}

func (e *IncompatibleError) Error() string { return e.Msg }

func (e *IncompatibleError) Unwrap() error { return e.Err }
