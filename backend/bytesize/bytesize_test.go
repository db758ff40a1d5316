package bytesize

import "testing"

func TestFormat(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 3_650_722_202: "3.4 GiB", 1 << 60: "1.0 EiB"} {
		if got := Format(n); got != want {
			t.Errorf("Format(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestSize(t *testing.T) {
	for in, want := range map[string]int64{
		"8GiB": 8 << 30, "8 GiB": 8 << 30, "500MB": 500e6, "1048576": 1 << 20, "1.5KiB": 1536, "2kb": 2000, "3b": 3,
	} {
		var s Size
		if err := s.Set(in); err != nil || int64(s) != want {
			t.Errorf("Set(%q) = %d, %v; want %d", in, s, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1GiB", "8 parsecs", "1e30", "0.1"} {
		var s Size
		if err := s.Set(in); err == nil {
			t.Errorf("Set(%q) accepted: %d", in, s)
		}
	}
	for n, want := range map[int64]string{8 << 30: "8 GiB", 1536: "1.5 KiB", 1000: "1000 B", 1 << 20: "1 MiB"} {
		if got := Size(n).String(); got != want {
			t.Errorf("Size(%d) = %q, want %q", n, got, want)
		}
	}
}
