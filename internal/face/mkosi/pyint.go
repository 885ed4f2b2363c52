package mkosi

import (
	"strings"
	"unicode"
)

// pyInt reads s as Python's int(s) does (sandbox.py's --exec-fd): blanks
// around it, a sign, decimal digits of any script with single
// underscores between them. ok is false where int() raises ValueError.
func pyInt(s string) (n int, ok bool) {
	s = strings.TrimFunc(s, unicode.IsSpace)
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" {
		return 0, false
	}
	prevDigit := false
	for _, r := range s {
		if r == '_' {
			if !prevDigit {
				return 0, false
			}
			prevDigit = false
			continue
		}
		d, isDigit := digitValue(r)
		if !isDigit {
			return 0, false
		}
		if n > (1<<31)/10 {
			// Far past any fd: fcntl would refuse it (EBADF) as well.
			return 0, false
		}
		n = n*10 + d
		prevDigit = true
	}
	if !prevDigit {
		return 0, false // a trailing underscore
	}
	if neg {
		n = -n
	}
	return n, true
}

// digitValue is a decimal digit's value: Unicode's decimal digits (Nd)
// come in runs of ten starting at zero.
func digitValue(r rune) (int, bool) {
	if !unicode.Is(unicode.Nd, r) {
		return 0, false
	}
	start := r
	for unicode.Is(unicode.Nd, start-1) {
		start--
	}
	return int(r-start) % 10, true
}
