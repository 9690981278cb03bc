package main

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// progress is a status line rewritten in place with \r, for a terminal.
type progress struct {
	w     io.Writer
	width int // of the last line, so that a shorter one covers it
}

func (p *progress) update(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	pad := max(p.width-len(line), 0)
	p.width = len(line)
	fmt.Fprint(p.w, "\r"+line+strings.Repeat(" ", pad))
}

// clear blanks the line, so that what follows starts on a clean one.
func (p *progress) clear() {
	if p.width > 0 {
		fmt.Fprint(p.w, "\r"+strings.Repeat(" ", p.width)+"\r")
		p.width = 0
	}
}

// isTerminal reports whether w is a terminal, as far as the standard
// library can tell: a character device. /dev/null is one too, and
// harmlessly gets the progress line.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
