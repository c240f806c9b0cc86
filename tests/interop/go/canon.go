package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// canonical renders one JSON text the way every reader of the interop test
// does (tests/interop/canon.py describes the form). Go reads the text with
// encoding/json's token stream (members in their order, numbers as
// json.Number): integer syntax is a math/big integer, anything else a float64
// from strconv.ParseFloat.
func canonical(text []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	var b strings.Builder
	if err := canonValue(dec, &b); err != nil {
		return "", err
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", fmt.Errorf("trailing data after %s", text)
	}
	return b.String(), nil
}

func canonValue(dec *json.Decoder, b *strings.Builder) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(t))
	case json.Number:
		s, err := canonNumber(t)
		if err != nil {
			return err
		}
		b.WriteString(s)
	case string:
		canonString(t, b)
	case json.Delim:
		switch t {
		case '[':
			b.WriteByte('[')
			for i := 0; dec.More(); i++ {
				if i > 0 {
					b.WriteByte(',')
				}
				if err := canonValue(dec, b); err != nil {
					return err
				}
			}
			b.WriteByte(']')
		case '{':
			b.WriteByte('{')
			for i := 0; dec.More(); i++ {
				if i > 0 {
					b.WriteByte(',')
				}
				name, err := dec.Token()
				if err != nil {
					return err
				}
				canonString(name.(string), b)
				b.WriteByte(':')
				if err := canonValue(dec, b); err != nil {
					return err
				}
			}
			b.WriteByte('}')
		default:
			return fmt.Errorf("unexpected %v", t)
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return err
		}
	default:
		return fmt.Errorf("unexpected token %v", tok)
	}
	return nil
}

func canonNumber(n json.Number) (string, error) {
	s := string(n)
	if !strings.ContainsAny(s, ".eE") {
		i, ok := new(big.Int).SetString(s, 10)
		if !ok {
			return "", fmt.Errorf("bad integer %s", s)
		}
		return i.String(), nil
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return "", err
	}
	negZero := x == 0 && math.Signbit(x)
	if x == math.Trunc(x) && math.Abs(x) < 1<<53 && !negZero {
		return strconv.FormatInt(int64(x), 10), nil
	}
	return fmt.Sprintf("d:%016x", math.Float64bits(x)), nil
}

func canonString(s string, b *strings.Builder) {
	b.WriteByte('"')
	for _, r := range s {
		if r >= 0x20 && r <= 0x7e && r != '"' && r != '\\' {
			b.WriteRune(r)
		} else {
			fmt.Fprintf(b, `\u{%x}`, r)
		}
	}
	b.WriteByte('"')
}
