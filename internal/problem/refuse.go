package problem

import (
	"net/http"
	"time"
)

// UnreadDrain is how long the server may go on reading, and discarding,
// the body of a request answered without reading it before the
// connection is closed. Closing with body bytes unread makes the kernel
// reset the connection, which can drop the answer before the client reads
// it (net/http waits 500 ms for the same reason); a client still sending
// after that is cut off.
const UnreadDrain = 500 * time.Millisecond

// CloseUnread prepares the answer to a request whose body the handler will
// not read (a refusal): the connection is closed after it, and what the
// server reads of the body afterwards, to clear it, is bounded by
// UnreadDrain instead of up to 256 KiB at the client's pace. Call it before
// the answer is written.
func CloseUnread(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(UnreadDrain))
}
