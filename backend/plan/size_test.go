package plan_test

import (
	"encoding/json"
	"strings"
	"testing"
	"unsafe"

	"github.com/ferrysync/ferry/backend/plan"
)

// A plan holds a group and its endpoints for every file of a first mirror: their sizes are its
// memory.
func TestGroupAndEndpointSizes(t *testing.T) {
	if n := unsafe.Sizeof(plan.Group{}); n != 48 {
		t.Errorf("a group takes %d bytes, want 48", n)
	}
	if n := unsafe.Sizeof(plan.Endpoint{}); n != 24 {
		t.Errorf("an endpoint takes %d bytes, want 24", n)
	}
}

func TestOpAndKindAsText(t *testing.T) {
	for _, op := range []plan.Op{plan.OpCopy, plan.OpCopyContent, plan.OpCopyDates, plan.OpCreate, plan.OpDelete} {
		data, err := json.Marshal(op)
		if err != nil {
			t.Fatal(err)
		}
		var back plan.Op
		if err := json.Unmarshal(data, &back); err != nil || back != op || string(data) != `"`+op.String()+`"` {
			t.Errorf("%v: %s decodes to %v, %v", op, data, back, err)
		}
	}
	for _, k := range []plan.Kind{0, plan.Full, plan.Delta} {
		data, err := json.Marshal(k)
		if err != nil {
			t.Fatal(err)
		}
		var back plan.Kind
		if err := json.Unmarshal(data, &back); err != nil || back != k {
			t.Errorf("%v: %s decodes to %v, %v", k, data, back, err)
		}
	}
	var op plan.Op
	if err := json.Unmarshal([]byte(`"move"`), &op); err == nil || !strings.Contains(err.Error(), "move") {
		t.Errorf("an unknown op decoded: %v, %v", op, err)
	}
	var k plan.Kind
	if err := json.Unmarshal([]byte(`"partial"`), &k); err == nil {
		t.Errorf("an unknown kind decoded: %v", k)
	}
	if _, err := json.Marshal(plan.Op(0)); err == nil {
		t.Error("the zero op was written")
	}
}
