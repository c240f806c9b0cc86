package sop

import "errors"

// Sentinel errors. Every error this package returns is an *Error whose kind
// matches one of them with errors.Is:
//
//	if errors.Is(err, sop.ErrConflict) { /* run the transaction again */ }
//
// The *Error keeps the engine's message and the C ABI code (errors.As).
var (
	// ErrConflict: another commit changed what the transaction used (or it ran
	// past its maximum commit time); nothing of it was committed: run the whole
	// transaction again. DB.Update and DB.View do that by themselves.
	ErrConflict = errors.New("sop: conflict, run the transaction again")
	// ErrOutcomeUnknown: the commit may or may not be durable. Do not retry
	// blindly: ask DB.CommitOutcome with the transaction's ID.
	ErrOutcomeUnknown = errors.New("sop: commit outcome unknown")
	// ErrPoisoned: the database handle cannot go on after an earlier error
	// (a failed fsync): close it and open the database again.
	ErrPoisoned = errors.New("sop: database handle poisoned")
	// ErrFenced: this process was fenced off by others (Clustered mode): open
	// the database again.
	ErrFenced = errors.New("sop: fenced off")
	// ErrCorrupt: data in the folder is damaged; retrying does not help.
	ErrCorrupt = errors.New("sop: corrupt data")
	// ErrInvalidInput: the engine refused the input (a key that does not fit
	// the key spec, a write in a read-only transaction, bad options, ...), or
	// the binding refused an argument (text with a NUL byte, a value encoding/json
	// cannot encode).
	ErrInvalidInput = errors.New("sop: invalid input")
	// ErrNotFound: the database, the store or the key does not exist.
	ErrNotFound = errors.New("sop: not found")
	// ErrExists: the database or store already exists.
	ErrExists = errors.New("sop: already exists")
	// ErrInUse: another process or handle holds the database in a way that
	// excludes this use (an exclusive open; Close while transactions are alive).
	ErrInUse = errors.New("sop: in use")
	// ErrDiskFull: the volume is full; nothing committed was lost.
	ErrDiskFull = errors.New("sop: disk full")
	// ErrIO: another I/O error; the message names the path.
	ErrIO = errors.New("sop: I/O error")
	// ErrUnavailable: the coordinator (Redis) cannot be reached; nothing was
	// committed.
	ErrUnavailable = errors.New("sop: coordinator unavailable")
	// ErrUnsupported: this build cannot serve this database, or the linked
	// library's C ABI version differs from this package's.
	ErrUnsupported = errors.New("sop: unsupported")
	// ErrClosed: the database, transaction, store or cursor was already closed
	// (use after Close).
	ErrClosed = errors.New("sop: handle closed")
	// ErrTxDone: the transaction was already committed or rolled back.
	ErrTxDone = errors.New("sop: transaction already committed or rolled back")
	// ErrInternal: a bug in SOP (a caught panic) or an engine error of a kind
	// this binding does not know; treat it as fatal for the operation.
	ErrInternal = errors.New("sop: internal error")
)

// The codes of sop.h (SOP_OK, SOP_ERR_*); they are stable (docs/BINDINGS.md).
const (
	codeRetry          = 1
	codeOutcomeUnknown = 2
	codePoisoned       = 3
	codeFenced         = 4
	codeCorrupt        = 5
	codeInvalidInput   = 6
	codeNotFound       = 7
	codeAlreadyExists  = 8
	codeInUse          = 9
	codeDiskFull       = 10
	codeIO             = 11
	codeUnavailable    = 12
	codeUnsupported    = 13
	codeOther          = 14
	codeBadArgument    = 20
	codeBadHandle      = 21
	codeTxEnded        = 22
	codePanic          = 23
)

// Error is an error from SOP: the operation, the C ABI code (SOP_ERR_* in
// sop.h) and the engine's message. Match it with errors.Is against the
// sentinels (ErrConflict, ErrNotFound, ...).
type Error struct {
	Op      string // the binding's operation, e.g. "commit", "json put"
	Code    int    // SOP_ERR_* code of sop.h
	Message string // the engine's message
}

func (e *Error) Error() string {
	if e.Message == "" {
		return "sop: " + e.Op + ": " + e.Unwrap().Error()
	}
	return "sop: " + e.Op + ": " + e.Message
}

// Unwrap gives the sentinel of the error's kind, so errors.Is works.
func (e *Error) Unwrap() error {
	switch e.Code {
	case codeRetry:
		return ErrConflict
	case codeOutcomeUnknown:
		return ErrOutcomeUnknown
	case codePoisoned:
		return ErrPoisoned
	case codeFenced:
		return ErrFenced
	case codeCorrupt:
		return ErrCorrupt
	case codeInvalidInput, codeBadArgument:
		return ErrInvalidInput
	case codeNotFound:
		return ErrNotFound
	case codeAlreadyExists:
		return ErrExists
	case codeInUse:
		return ErrInUse
	case codeDiskFull:
		return ErrDiskFull
	case codeIO:
		return ErrIO
	case codeUnavailable:
		return ErrUnavailable
	case codeUnsupported:
		return ErrUnsupported
	case codeBadHandle:
		return ErrClosed
	case codeTxEnded:
		return ErrTxDone
	default: // codeOther, codePanic, and codes newer than this binding
		return ErrInternal
	}
}

// newError is an error the binding itself raises (before or without a C call).
func newError(op string, code int, msg string) *Error {
	return &Error{Op: op, Code: code, Message: msg}
}
