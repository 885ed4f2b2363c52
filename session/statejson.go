package session

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"unicode/utf8"
)

// A session command or schroot call reads one state file and writes one
// lock record, then exits. encoding/json spends most of its time the first
// time it meets a type in a process (it builds its reflection caches):
// about 0.5 ms to decode a state and 0.3 ms to encode the record here
// against 4 µs warm. So the common case goes through the small scanner and
// writer below, and encoding/json stays the reference: whatever the
// scanner does not expect (an escape, another key or value type, a key in
// other case, a key twice) is decoded by encoding/json instead, and
// FuzzDecodeState checks that the two agree wherever the scanner answers.

// readState reads a state file (see decodeState).
func readState(path string, st *State) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return decodeState(path, b, st)
}

// decodeState decodes b into st, a zero State, as json.Unmarshal would
// (which would merge into a State already filled; the scanner replaces).
func decodeState(path string, b []byte, st *State) error {
	var fast State
	if scanState(b, &fast) {
		*st = fast
		return nil
	}
	if err := json.Unmarshal(b, st); err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	return nil
}

// scanState decodes a flat JSON object of the keys State has, with plain
// string values (no escapes, valid UTF-8), booleans copy and boot and a keys
// object of such strings; it reports false, leaving st in any state, for
// anything else.
func scanState(b []byte, st *State) bool {
	s := jsonScan{b: b}
	if !s.byte('{') {
		return false
	}
	if s.byte('}') {
		return s.end()
	}
	seen := map[string]bool{}
	for {
		k, ok := s.str()
		if !ok || seen[k] || !s.byte(':') {
			return false
		}
		seen[k] = true
		switch k {
		case "copy":
			if st.Copy, ok = s.boolean(); !ok {
				return false
			}
		case "boot":
			if st.Boot, ok = s.boolean(); !ok {
				return false
			}
		case "long_lived":
			if st.LongLived, ok = s.boolean(); !ok {
				return false
			}
		case "no_network":
			if st.NoNetwork, ok = s.boolean(); !ok {
				return false
			}
		case "keys":
			if st.Keys, ok = s.strMap(); !ok {
				return false
			}
		case "created":
			v, ok := s.str()
			if !ok || st.Created.UnmarshalText([]byte(v)) != nil {
				return false
			}
		default:
			p := st.stringField(k)
			if p == nil {
				return false
			}
			if *p, ok = s.str(); !ok {
				return false
			}
		}
		if s.byte(',') {
			continue
		}
		return s.byte('}') && s.end()
	}
}

// stringField is the string field whose JSON name is exactly k.
func (st *State) stringField(k string) *string {
	switch k {
	case "id":
		return &st.ID
	case "chroot":
		return &st.Chroot
	case "kind":
		return (*string)(&st.Kind)
	case "source":
		return &st.Source
	case "lower":
		return &st.Lower
	case "entry":
		return &st.Entry
	case "id_mode":
		return (*string)(&st.IDMode)
	case "selected":
		return &st.Selected
	case "repack":
		return &st.Repack
	}
	return nil
}

type jsonScan struct {
	b []byte
	i int
}

func (s *jsonScan) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// byte consumes c after any white space.
func (s *jsonScan) byte(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// end reports whether only white space is left.
func (s *jsonScan) end() bool {
	s.space()
	return s.i == len(s.b)
}

// str consumes a string without escapes or control characters whose
// contents are valid UTF-8.
func (s *jsonScan) str() (string, bool) {
	if !s.byte('"') {
		return "", false
	}
	for j := s.i; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			v := string(s.b[s.i:j])
			if !utf8.ValidString(v) {
				return "", false
			}
			s.i = j + 1
			return v, true
		case c == '\\' || c < 0x20:
			return "", false
		}
	}
	return "", false
}

func (s *jsonScan) boolean() (bool, bool) {
	s.space()
	for _, v := range []bool{true, false} {
		w := strconv.FormatBool(v)
		if len(s.b)-s.i >= len(w) && string(s.b[s.i:s.i+len(w)]) == w {
			s.i += len(w)
			return v, true
		}
	}
	return false, false
}

// strMap consumes an object of strings with no key twice.
func (s *jsonScan) strMap() (map[string]string, bool) {
	if !s.byte('{') {
		return nil, false
	}
	m := map[string]string{}
	if s.byte('}') {
		return m, true
	}
	for {
		k, ok := s.str()
		if !ok || !s.byte(':') {
			return nil, false
		}
		if _, dup := m[k]; dup {
			return nil, false
		}
		if m[k], ok = s.str(); !ok {
			return nil, false
		}
		if s.byte(',') {
			continue
		}
		if s.byte('}') {
			return m, true
		}
		return nil, false
	}
}

// appendRunning appends the lock record {"pid":PID,"args":[…]} as JSON
// that reads back as json.Marshal's does (the bytes differ: HTML
// characters stay as they are, \b and \f are written as \u escapes).
func appendRunning(b []byte, r running) []byte {
	b = append(b, `{"pid":`...)
	b = strconv.AppendInt(b, int64(r.Pid), 10)
	b = append(b, `,"args":`...)
	if r.Args == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, a := range r.Args {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, a)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// appendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 as U+FFFD (as json.Marshal
// does), and U+2028 and U+2029 escaped, for JavaScript's sake.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return append(b, '"')
}
