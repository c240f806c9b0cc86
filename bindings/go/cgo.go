package sop

// The C side of the binding: sop.h, the static library, and small C wrappers.
//
// Each wrapper makes one C ABI call and returns a g_res by value: the code, the
// outputs, and, when the call failed, a copy of sop_last_error_message(). The
// message is per OS thread and a goroutine may move to another thread between
// two cgo calls, so it must be read inside the same C call as the failing
// function. Returning the outputs in a struct also keeps Go pointers out of C.
//
// The library is found with -L: CGO_LDFLAGS="-L<dir>" (searched first), else
// <repo>/target/release, else <repo>/target/debug. "-l:libsop_ffi.a" takes the
// static library even when the shared one is beside it.

/*
#cgo CFLAGS: -I${SRCDIR}/../../crates/sop-ffi/include
#cgo LDFLAGS: -L${SRCDIR}/../../target/release -L${SRCDIR}/../../target/debug -l:libsop_ffi.a -lpthread -ldl -lm
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// abiErr is set at load when the linked library's C ABI version differs from
// the header this package was compiled with; Open then refuses to work.
var abiErr error

func init() {
	lib, hdr := uint32(C.sop_abi_version()), uint32(C.SOP_ABI_VERSION)
	if lib != hdr {
		abiErr = &Error{Op: "load", Code: codeUnsupported, Message: fmt.Sprintf(
			"the linked libsop_ffi has C ABI version %d, this package was built for %d (sop.h): rebuild it with the library it links",
			lib, hdr)}
	}
}

// ABIVersion is the C ABI version of the linked library (it equals the one of
// the header, or Open fails).
func ABIVersion() uint32 { return uint32(C.sop_abi_version()) }

// LibraryVersion is the version of the linked SOP library ("0.1.0").
func LibraryVersion() string { return C.GoString(C.sop_version()) }

// result turns a wrapper's g_res into an error (nil on success), freeing the
// message copy.
func result(op string, r C.g_res) error {
	if r.rc == C.SOP_OK {
		return nil
	}
	msg := ""
	if r.msg != nil {
		msg = C.GoString(r.msg)
		C.free(unsafe.Pointer(r.msg))
	}
	return &Error{Op: op, Code: int(r.rc), Message: msg}
}

// cText is Go text as a NUL-terminated C string in Go memory (valid for one
// call; C does not keep it). Text with a NUL inside is an invalid input.
func cText(op, what, s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return nil, &Error{Op: op, Code: codeBadArgument, Message: what + " contains a NUL byte"}
		}
	}
	b := make([]byte, len(s)+1)
	copy(b, s)
	return b, nil
}

// cstr is the C view of a NUL-terminated buffer from cText or jsonText; nil
// stays NULL.
func cstr(b []byte) *C.char {
	if b == nil {
		return nil
	}
	return (*C.char)(unsafe.Pointer(&b[0]))
}

// cbytes is a pointer to the first byte of b, NULL for an empty slice.
func cbytes(b []byte) *C.uint8_t {
	if len(b) == 0 {
		return nil
	}
	return (*C.uint8_t)(unsafe.Pointer(&b[0]))
}

// takeString copies and frees a string the library returned.
func takeString(p unsafe.Pointer) string {
	if p == nil {
		return ""
	}
	s := C.GoString((*C.char)(p))
	C.sop_string_free((*C.char)(p))
	return s
}

// takeValue copies the value g_json_get or g_raw_get returned: from buf when
// it fitted, else from the library's buffer, which it frees.
func takeValue(r C.g_res, buf []byte, isString bool) []byte {
	n := int(r.n)
	if r.ptr == nil {
		out := make([]byte, n)
		copy(out, buf[:n])
		return out
	}
	out := C.GoBytes(r.ptr, C.int(n))
	s := C.int(0)
	if isString {
		s = 1
	}
	C.g_bytes_free(r.ptr, r.len, s)
	return out
}
