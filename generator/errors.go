package generator

import (
	"errors"
	"fmt"
)

// InputError is a mistake in the options (an unknown agent, an invalid
// domain, existing files without --force). The command reports it as a usage
// error. Nothing has been written when it is returned.
type InputError struct{ Err error }

// Error returns the message, which names the accepted values.
func (e *InputError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *InputError) Unwrap() error { return e.Err }

func inputErrorf(format string, args ...any) error {
	return &InputError{Err: fmt.Errorf(format, args...)}
}

// IsInputError reports whether err is, or wraps, an InputError.
func IsInputError(err error) bool {
	var ie *InputError
	return errors.As(err, &ie)
}
