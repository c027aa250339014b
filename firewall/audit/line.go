package audit

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// MaxLine bounds one line of the log as it is read back; a record is far
// smaller (a name is at most 1 KiB as presented, an answer 50 addresses).
const MaxLine = 256 << 10

// Marshal renders r as one line of the log, newline included. The line is
// ASCII: encoding/json escapes control characters but passes DEL, bidi
// controls and every other non-ASCII character through, so those are
// escaped here as \uXXXX. Printed raw (`init-firewall log`, `devbox log
// --json`), a line cannot act on a terminal.
func Marshal(r Record) ([]byte, error) {
	data, err := MarshalASCII(r)
	if err != nil {
		return nil, fmt.Errorf("marshal audit record: %w", err)
	}
	return append(data, '\n'), nil
}

// MarshalASCII is json.Marshal with every non-ASCII character and DEL
// escaped: JSON that is safe to print raw on a terminal.
func MarshalASCII(v any) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return asciiJSON(data), nil
}

// asciiJSON escapes every byte of data at or above 0x7f. Outside strings
// JSON is ASCII, so only string contents change.
func asciiJSON(data []byte) []byte {
	ascii := true
	for _, c := range data {
		if c >= 0x7f {
			ascii = false
			break
		}
	}
	if ascii {
		return data
	}
	out := make([]byte, 0, len(data)+32)
	for i := 0; i < len(data); {
		c := data[i]
		if c < 0x7f {
			out = append(out, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(data[i:])
		i += size
		if r >= 0x10000 {
			r -= 0x10000
			out = appendU(appendU(out, 0xd800+(r>>10)), 0xdc00+(r&0x3ff))
			continue
		}
		out = appendU(out, r)
	}
	return out
}

func appendU(out []byte, r rune) []byte {
	s := strconv.FormatInt(int64(r), 16)
	out = append(out, `\u`...)
	for range 4 - len(s) {
		out = append(out, '0')
	}
	return append(out, s...)
}

// Decode calls fn for every record of the JSON lines read from r, in
// order, until r ends or fn fails. A line that is not a record is skipped
// (a line torn by a crash of the writer).
func Decode(r io.Reader, fn func(Record) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), MaxLine)
	for sc.Scan() {
		rec, ok := parseLine(sc.Bytes())
		if !ok {
			continue
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read audit log: %w", err)
	}
	return nil
}

// parseLine parses one line of the log.
func parseLine(line []byte) (Record, bool) {
	var rec Record
	if len(line) == 0 || json.Unmarshal(line, &rec) != nil || rec.Kind == "" {
		return Record{}, false
	}
	return rec, true
}
