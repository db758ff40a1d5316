//go:build ignore

// Writes a bcryptprimitives.dll for Wine 8 (Debian 12), which lacks it: Go programs (1.22 on) take
// their random bytes from its ProcessPrng and stop at start-up without it. The DLL holds no code,
// only an export that forwards ProcessPrng to advapi32's RtlGenRandom (SystemFunction036), which
// takes the same arguments and returns a BOOLEAN where ProcessPrng returns a BOOL (Go reads the low
// byte). build/package/test-windows.sh puts it in the Wine prefix's system32; nothing ships it.
//
//	go run build/windows/wine-bcryptprimitives.go OUT.dll
package main

import (
	"bytes"
	"encoding/binary"
	"log"
	"os"
)

const (
	fileAlign = 0x200
	sectRVA   = 0x1000 // the one section, holding the export directory
	sectAlign = 0x1000
)

func main() {
	if len(os.Args) != 2 {
		log.Fatal("usage: go run wine-bcryptprimitives.go OUT.dll")
	}
	if err := os.WriteFile(os.Args[1], dll(), 0o644); err != nil {
		log.Fatal(err)
	}
}

// exports is the section: an export directory with one named function whose address lies inside
// the directory, which makes it a forwarder to the string there.
func exports() []byte {
	const (
		dirSize   = 40
		eat       = dirSize   // address table: 1 RVA
		names     = eat + 4   // name pointer table: 1 RVA
		ordinals  = names + 4 // ordinal table: 1 uint16
		dllName   = ordinals + 4
		dllNameS  = "bcryptprimitives.dll\x00"
		funcName  = dllName + len(dllNameS)
		funcNameS = "ProcessPrng\x00"
		forward   = funcName + len(funcNameS)
		forwardS  = "advapi32.SystemFunction036\x00"
	)
	var b bytes.Buffer
	w := func(v any) { binary.Write(&b, binary.LittleEndian, v) }
	w([4]uint32{0, 0, 0, sectRVA + dllName}) // flags, time stamp, version, name
	w([3]uint32{1, 1, 1})                    // ordinal base, functions, names
	w([3]uint32{sectRVA + eat, sectRVA + names, sectRVA + ordinals})
	w(uint32(sectRVA + forward))
	w(uint32(sectRVA + funcName))
	w([2]uint16{0, 0}) // ordinal (address table index) 0, padding
	b.WriteString(dllNameS + funcNameS + forwardS)
	return b.Bytes()
}

func dll() []byte {
	edata := exports()
	raw := align(len(edata), fileAlign)
	var b bytes.Buffer
	w := func(v any) { binary.Write(&b, binary.LittleEndian, v) }

	// DOS header: only the magic and the offset of the PE header matter.
	w([2]byte{'M', 'Z'})
	b.Write(make([]byte, 0x3a))
	w(uint32(0x40))

	// COFF header: x86-64, 1 section, optional header of 240 bytes, executable DLL.
	b.WriteString("PE\x00\x00")
	w([2]uint16{0x8664, 1})
	w([3]uint32{0, 0, 0})
	w([2]uint16{240, 0x2022})

	// PE32+ optional header: no code and no entry point (so no DllMain), the GUI subsystem with
	// ASLR and NX, and one data directory in use, the exports (their forwarder strings included).
	imageSize := uint32(sectRVA + align(len(edata), sectAlign))
	w(uint16(0x20b))
	w([2]byte{14, 0})                           // linker version
	w([5]uint32{0, uint32(raw), 0, 0, sectRVA}) // code, data, bss sizes; entry point; code base
	w(uint64(0x180000000))                      // image base
	w([2]uint32{sectAlign, fileAlign})
	w([6]uint16{6, 0, 0, 0, 6, 0})                   // OS, image, subsystem versions
	w([4]uint32{0, imageSize, fileAlign, 0})         // Win32 version, image and headers sizes, checksum
	w([2]uint16{2, 0x0160})                          // subsystem, DLL characteristics
	w([4]uint64{0x100000, 0x1000, 0x100000, 0x1000}) // stack and heap: reserve, commit
	w([2]uint32{0, 16})                              // loader flags, data directories
	w([2]uint32{sectRVA, uint32(len(edata))})
	b.Write(make([]byte, 15*8))

	// The section header, then the section at the first file-aligned offset.
	b.WriteString(".edata\x00\x00")
	w([4]uint32{uint32(len(edata)), sectRVA, uint32(raw), fileAlign})
	w([3]uint32{0, 0, 0})
	w(uint32(0x40000040)) // initialized data, readable
	b.Write(make([]byte, fileAlign-b.Len()))
	b.Write(edata)
	b.Write(make([]byte, raw-len(edata)))
	return b.Bytes()
}

func align(n, a int) int { return (n + a - 1) / a * a }
