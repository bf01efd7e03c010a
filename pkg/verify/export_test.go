package verify

// Key exposes key derivation to the external tests.
var Key = key
