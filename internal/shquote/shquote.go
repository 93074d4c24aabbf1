// Package shquote writes argv as a line for a POSIX shell (sh, dash, bash,
// AIX ksh) and reads such a line back.
//
// Quote and Join write: a word made only of letters, digits and
// "/._-+=:,@" stays bare (so the usual paths and flags read as typed);
// any other word, the empty one included, is put in single quotes, a quote
// inside written as quote, backslash, quote, quote. Inside single quotes a
// shell takes every byte literally, so any byte but NUL (which no argv can
// hold) survives, UTF-8 or not.
//
// Split and Fields read. They share one tokenizer and differ only in what
// they do with a line that is more than one plain command:
//
//   - Split is strict: a line with anything a shell would do more with
//     than split words (; | & $ ` < > " ( ) { } * ? [ # ~, a newline, a
//     trailing or line-continuing backslash, an unclosed quote, NUL) is an
//     error. Use it where the words may be run, or offered to be run, as
//     argv: a line that is really a pipeline or a substitution must never
//     become one command.
//   - Fields is lenient: those characters are taken as literal bytes of a
//     word, and an unclosed quote runs to the end of the line. Use it only
//     to read back a line that Join wrote (which never holds them bare),
//     where losing the line would be worse than a literal reading.
package shquote

import (
	"errors"
	"fmt"
	"strings"
)

// ErrSyntax marks a line Split refuses: it is not one plain command.
var ErrSyntax = errors.New("not a plain command line")

// Quote makes word one word for a POSIX shell.
func Quote(word string) string {
	if word != "" && strings.IndexFunc(word, func(r rune) bool { return !bare(r) }) < 0 {
		return word
	}
	return "'" + strings.ReplaceAll(word, "'", `'\''`) + "'"
}

func bare(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+=:,@", r)
}

// Join quotes each word of argv and joins them with spaces: a line that can
// be pasted into a shell.
func Join(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = Quote(a)
	}
	return strings.Join(q, " ")
}

// special are the bytes Split refuses outside quotes: a shell would
// substitute, redirect, glob, expand, comment or end the command there.
const special = ";|&$`<>\"(){}*?[#~\n\x00"

// Split splits a plain command line (blank-separated words, 'single
// quotes', backslash escapes outside them) into its words; an error
// wrapping ErrSyntax, naming the offset, for anything else.
func Split(line string) ([]string, error) {
	return split(line, true)
}

// Fields splits line as Split does but never fails: see the package
// comment for when that is right.
func Fields(line string) []string {
	words, _ := split(line, false)
	return words
}

func split(line string, strict bool) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord, quoted, quoteAt := false, false, 0
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quoted:
			if c == '\'' {
				quoted = false
				continue
			}
			if c == 0 && strict {
				return nil, fmt.Errorf("offset %d: NUL byte: %w", i, ErrSyntax)
			}
			w.WriteByte(c)
		case c == '\'':
			quoted, inWord, quoteAt = true, true, i
		case c == '\\':
			inWord = true
			if i+1 == len(line) || line[i+1] == '\n' || line[i+1] == 0 {
				if strict {
					return nil, fmt.Errorf("offset %d: backslash at the end of a line: %w", i, ErrSyntax)
				}
				continue
			}
			i++
			w.WriteByte(line[i])
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		case strict && strings.IndexByte(special, c) >= 0:
			return nil, fmt.Errorf("offset %d: %q: %w", i, c, ErrSyntax)
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if quoted && strict {
		return nil, fmt.Errorf("offset %d: quote never closed: %w", quoteAt, ErrSyntax)
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}
