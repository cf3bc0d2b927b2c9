package expr

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// A datePattern is a date-time pattern of Java's DateTimeFormatter (the
// letters Flink's DATE_FORMAT, TO_TIMESTAMP, UNIX_TIMESTAMP and
// FROM_UNIXTIME take), translated once into a list of fields. Times are
// UTC.
//
// Letters: y/u year (yy: two digits), M month (M, MM, MMM Jan, MMMM
// January), d day of month, D day of year, H hour 0-23, k hour 1-24, h hour
// 1-12, K hour 0-11, m minute, s second, S fraction of a second (S tenths,
// SS hundredths, SSS milliseconds, more: zeros), a AM/PM, E day of week
// (E..EEE Mon, EEEE Monday), w ISO week of the year. Repeating a numeric
// letter pads with zeros. Text in '…' is literal (” is a quote); other
// characters than letters are literal.
type datePattern struct {
	items []dateItem
	text  string
}

type dateItem struct {
	letter byte // 0: literal
	count  int
	lit    string
}

const defaultDatePattern = "yyyy-MM-dd HH:mm:ss"

var knownDateLetters = "yuMdDHkhKmsSaEw"

func parseDatePattern(p string) (*datePattern, error) {
	dp := &datePattern{text: p}
	lit := func(s string) {
		if n := len(dp.items); n > 0 && dp.items[n-1].letter == 0 {
			dp.items[n-1].lit += s
			return
		}
		dp.items = append(dp.items, dateItem{lit: s})
	}
	for i := 0; i < len(p); {
		c := p[i]
		switch {
		case c == '\'':
			if i+1 < len(p) && p[i+1] == '\'' {
				lit("'")
				i += 2
				continue
			}
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(p) {
					return nil, fmt.Errorf("unterminated quote at position %d", i+1)
				}
				if p[j] == '\'' {
					if j+1 < len(p) && p[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(p[j])
				j++
			}
			lit(b.String())
			i = j + 1
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			if !strings.ContainsRune(knownDateLetters, rune(c)) {
				return nil, fmt.Errorf("unknown pattern letter %c (letters: y M d D H k h K m s S a E w; quote text as 'text')", c)
			}
			j := i
			for j < len(p) && p[j] == c {
				j++
			}
			dp.items = append(dp.items, dateItem{letter: c, count: j - i})
			i = j
		case c == '[' || c == ']' || c == '{' || c == '}' || c == '#':
			return nil, fmt.Errorf("%c is reserved in patterns; quote it as '%c'", c, c)
		default:
			lit(string(c))
			i++
		}
	}
	return dp, nil
}

var (
	monthNames = [...]string{"January", "February", "March", "April", "May", "June", "July",
		"August", "September", "October", "November", "December"}
	dayNames = [...]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
)

func appendPadded(buf []byte, v int64, width int) []byte {
	switch {
	case v >= 0 && v < 10 && width <= 1:
		return append(buf, byte('0'+v))
	case v >= 0 && v < 100 && width <= 2:
		if v < 10 && width < 2 {
			return append(buf, byte('0'+v))
		}
		return append(buf, byte('0'+v/10), byte('0'+v%10))
	case v >= 1000 && v < 10000 && width <= 4:
		return append(buf, byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
	}
	if v < 0 {
		buf = append(buf, '-')
		v = -v
	}
	var d [20]byte
	s := strconv.AppendInt(d[:0], v, 10)
	for k := len(s); k < width; k++ {
		buf = append(buf, '0')
	}
	return append(buf, s...)
}

// format appends the time ms (milliseconds since the epoch, UTC) to buf.
func (dp *datePattern) format(buf []byte, ms int64) []byte {
	t := time.UnixMilli(ms).UTC()
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	frac := ms % 1000
	if frac < 0 {
		frac += 1000
	}
	for _, it := range dp.items {
		n := it.count
		switch it.letter {
		case 0:
			buf = append(buf, it.lit...)
		case 'y', 'u':
			if n == 2 {
				y := int64(year) % 100
				if y < 0 {
					y += 100
				}
				buf = appendPadded(buf, y, 2)
			} else {
				buf = appendPadded(buf, int64(year), n)
			}
		case 'M':
			switch {
			case n <= 2:
				buf = appendPadded(buf, int64(month), n)
			case n == 3:
				buf = append(buf, monthNames[month-1][:3]...)
			case n == 4:
				buf = append(buf, monthNames[month-1]...)
			default:
				buf = append(buf, monthNames[month-1][0])
			}
		case 'd':
			buf = appendPadded(buf, int64(day), n)
		case 'D':
			buf = appendPadded(buf, int64(t.YearDay()), n)
		case 'H':
			buf = appendPadded(buf, int64(hour), n)
		case 'k':
			h := hour
			if h == 0 {
				h = 24
			}
			buf = appendPadded(buf, int64(h), n)
		case 'h':
			h := hour % 12
			if h == 0 {
				h = 12
			}
			buf = appendPadded(buf, int64(h), n)
		case 'K':
			buf = appendPadded(buf, int64(hour%12), n)
		case 'm':
			buf = appendPadded(buf, int64(minute), n)
		case 's':
			buf = appendPadded(buf, int64(sec), n)
		case 'S':
			digits := [3]byte{byte('0' + frac/100), byte('0' + frac/10%10), byte('0' + frac%10)}
			for k := range n {
				if k < 3 {
					buf = append(buf, digits[k])
				} else {
					buf = append(buf, '0')
				}
			}
		case 'a':
			if hour < 12 {
				buf = append(buf, "AM"...)
			} else {
				buf = append(buf, "PM"...)
			}
		case 'E':
			name := dayNames[t.Weekday()]
			switch {
			case n <= 3:
				buf = append(buf, name[:3]...)
			case n == 4:
				buf = append(buf, name...)
			default:
				buf = append(buf, name[0])
			}
		case 'w':
			_, w := t.ISOWeek()
			buf = appendPadded(buf, int64(w), n)
		}
	}
	return buf
}

// numericLetter reports whether the field of letter is read as digits.
func numericLetter(c byte, count int) bool {
	switch c {
	case 0, 'a', 'E':
		return false
	case 'M':
		return count <= 2
	}
	return true
}

// parse reads s, which must match the whole pattern, as a UTC time in
// milliseconds since the epoch. Missing fields default to 1970-01-01
// 00:00:00.000; ok is false when s does not match or names an impossible
// time.
func (dp *datePattern) parse(s string) (ms int64, ok bool) {
	year, month, day, doy := int64(1970), int64(1), int64(1), int64(-1)
	hour, minute, sec, frac := int64(0), int64(0), int64(0), int64(0)
	h12, pm := int64(-1), int64(-1)
	pos := 0
	for k, it := range dp.items {
		if it.letter == 0 {
			if !strings.HasPrefix(s[pos:], it.lit) {
				return 0, false
			}
			pos += len(it.lit)
			continue
		}
		if !numericLetter(it.letter, it.count) {
			switch it.letter {
			case 'M':
				m := matchName(s[pos:], monthNames[:], it.count == 3)
				if m < 0 {
					return 0, false
				}
				month = int64(m + 1)
				pos += len(monthNames[m])
				if it.count == 3 {
					pos -= len(monthNames[m]) - 3
				}
			case 'E':
				d := matchName(s[pos:], dayNames[:], it.count <= 3)
				if d < 0 {
					return 0, false
				}
				if it.count <= 3 {
					pos += 3
				} else {
					pos += len(dayNames[d])
				}
			case 'a':
				if len(s)-pos < 2 {
					return 0, false
				}
				switch strings.ToUpper(s[pos : pos+2]) {
				case "AM":
					pm = 0
				case "PM":
					pm = 1
				default:
					return 0, false
				}
				pos += 2
			}
			continue
		}
		// Digits: a fixed width when the next field is numeric too (as
		// "yyyyMMdd") or the letter is repeated (except the year, which
		// takes up to 9), else as many as there are.
		minW, maxW := 1, 9
		adjacent := k+1 < len(dp.items) && numericLetter(dp.items[k+1].letter, dp.items[k+1].count) && dp.items[k+1].letter != 0
		switch {
		case it.letter == 'S':
			minW, maxW = it.count, it.count
		case it.letter == 'y' || it.letter == 'u':
			if it.count == 2 || adjacent {
				minW, maxW = it.count, it.count
			} else {
				minW = it.count
			}
		case it.count >= 2 || adjacent:
			minW, maxW = max(it.count, 1), max(it.count, 1)
			if it.count == 1 {
				maxW = 2
				if it.letter == 'D' {
					maxW = 3
				}
			}
		default:
			maxW = 2
			if it.letter == 'D' {
				maxW = 3
			}
		}
		end := pos
		for end < len(s) && end-pos < maxW && s[end] >= '0' && s[end] <= '9' {
			end++
		}
		if end-pos < minW {
			return 0, false
		}
		v, _ := strconv.ParseInt(s[pos:end], 10, 64)
		digits := end - pos
		pos = end
		switch it.letter {
		case 'y', 'u':
			if it.count == 2 {
				v += 2000
			}
			year = v
		case 'M':
			month = v
		case 'd':
			day = v
		case 'D':
			doy = v
		case 'H':
			hour = v
		case 'k':
			if v == 24 {
				v = 0
			}
			hour = v
		case 'h', 'K':
			h12 = v % 12
			if it.letter == 'K' && v > 11 || it.letter == 'h' && (v < 1 || v > 12) {
				return 0, false
			}
		case 'm':
			minute = v
		case 's':
			sec = v
		case 'S':
			for range 3 - min(digits, 3) {
				v *= 10
			}
			for range digits - 3 {
				v /= 10
			}
			frac = v
		case 'w': // read, not used
		}
	}
	if pos != len(s) {
		return 0, false
	}
	if h12 >= 0 {
		hour = h12
		if pm == 1 {
			hour += 12
		}
	} else if pm == 1 && hour < 12 {
		hour += 12
	}
	if month < 1 || month > 12 || hour > 23 || minute > 59 || sec > 59 || year > 999_999 {
		return 0, false
	}
	if doy >= 0 {
		if doy < 1 || doy > 366 {
			return 0, false
		}
		t := time.Date(int(year), 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(doy-1))
		if t.Year() != int(year) {
			return 0, false
		}
		month, day = int64(t.Month()), int64(t.Day())
	}
	if day < 1 || day > int64(daysIn(int(year), time.Month(month))) {
		return 0, false
	}
	t := time.Date(int(year), time.Month(month), int(day), int(hour), int(minute), int(sec), 0, time.UTC)
	return t.UnixMilli() + frac, true
}

// matchName returns the index of the name s starts with (case-insensitive;
// its first three letters when short), or -1.
func matchName(s string, names []string, short bool) int {
	for i, n := range names {
		if short {
			n = n[:3]
		}
		if len(s) >= len(n) && strings.EqualFold(s[:len(n)], n) {
			return i
		}
	}
	return -1
}

func daysIn(year int, m time.Month) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
