package runtime

import "testing"

func TestHashColumnsNullKeysHashAlike(t *testing.T) {
	s := NewSchema(Field{Name: "a", Type: BigInt, Nullable: true}, Field{Name: "b", Type: Varchar, Nullable: true})
	b := NewBatch(s)
	b.AppendValues(IntValue(1), StringValue("x"))
	b.AppendValues(IntValue(1), StringValue("y"))
	b.AppendValues(IntValue(1), NullValue(Varchar))
	b.AppendValues(IntValue(7), StringValue("z")) // made NULL below, keeping its stale values
	b.Cols[0].SetNull(3)
	b.Cols[1].SetNull(3)
	b.AppendValues(NullValue(BigInt), NullValue(Varchar))
	h := HashColumns(b, []int{0, 1}, nil)
	if h[0] == h[1] || h[0] == h[2] {
		t.Fatalf("distinct keys hash alike: %x", h)
	}
	if h[3] != h[4] {
		t.Fatalf("NULL,NULL keys hash differently: %x vs %x", h[3], h[4])
	}
	// Present-row hashing honours the selection vector.
	b.Sel = []int32{4, 0}
	h2 := HashColumns(b, []int{0, 1}, nil)
	if h2[0] != h[4] || h2[1] != h[0] {
		t.Fatalf("selection not honoured: %x", h2)
	}
}

func TestKeyGroupsSpreadOverSubtasks(t *testing.T) {
	counts := make([]int, 4)
	for i := 0; i < 100_000; i++ {
		counts[SubtaskForKeyGroup(KeyGroup(HashInt64(uint64(i))), 4)]++
	}
	for s, c := range counts {
		if c < 20_000 || c > 30_000 {
			t.Fatalf("subtask %d got %d of 100000 keys: %v", s, c, counts)
		}
	}
}
