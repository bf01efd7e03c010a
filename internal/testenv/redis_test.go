package testenv

import (
	"testing"
)

// DeleteKeys removes the keys under its prefix and no other, even where
// the prefix holds characters SCAN MATCH reads as a pattern.
func TestDeleteKeysOnlyUnderItsPrefix(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	rdb := Redis(t)
	base := RedisPrefix(t, "del") // cleans up whatever is left
	prefix := base + "x[1]?:"
	mine := []string{prefix + "a", prefix + "b*"}
	others := []string{base + "x1?:a", base + "x[1]:a", base + "x[1]!:a"} // matched by the prefix as an unescaped pattern, or by its start
	for _, k := range append(append([]string{}, mine...), others...) {
		if err := rdb.Set(ctx, k, "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	n, err := DeleteKeys(ctx, rdb, prefix)
	if err != nil || n != len(mine) {
		t.Fatalf("DeleteKeys = %d, %v; want %d", n, err, len(mine))
	}
	for _, k := range others {
		if rdb.Exists(ctx, k).Val() != 1 {
			t.Errorf("%s was deleted", k)
		}
	}
}
