package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

// flagSet is one subcommand's flags and its help text. The standard
// library's FlagSet holds the flags; parse reads the arguments itself, so
// that a mistake is told in the command's words ("unknown flag --evry;
// did you mean --every?"), not the library's ("flag provided but not
// defined: -evry"), and no value is echoed unmasked.
type flagSet struct {
	*flag.FlagSet
	synopsis, about string
	dsn             *string
}

// newFlagSet returns the flags of the subcommand name, with --dsn, which
// every subcommand takes. synopsis follows "gormstore name" in the usage
// line; about says what the command does.
func newFlagSet(name, synopsis, about string) *flagSet {
	fs := &flagSet{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError), synopsis: synopsis, about: about}
	fs.SetOutput(io.Discard)
	fs.dsn = fs.String("dsn", "", "the database's `DSN` (default: $DATABASE_URL, else the SQLite file gormstore.db; forms: 'gormstore help dsn')")
	return fs
}

// usageLine is the command's one-line synopsis.
func (fs *flagSet) usageLine() string {
	return strings.TrimSpace("gormstore " + fs.Name() + " " + fs.synopsis)
}

// usagef is a usage error of this command: the message, then its usage
// line.
func (fs *flagSet) usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...), usage: fs.usageLine()}
}

// parse reads args: flags, with one dash or two, as --name value or
// --name=value (a boolean flag alone or as --name=false); a flag given
// again overrides, as with the flag package, so that a script can append
// to a fixed set. --help prints the usage to w and returns errHelp. An
// unknown flag, a missing or malformed value, or an argument that is not
// a flag is a usage error; what it quotes of the arguments is masked.
func (fs *flagSet) parse(w io.Writer, args []string) error {
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			if i+1 < len(args) {
				return fs.stray(args[i+1])
			}
			return nil
		}
		if len(arg) < 2 || arg[0] != '-' {
			return fs.stray(arg)
		}
		name := strings.TrimPrefix(arg[1:], "-")
		name, value, hasValue := strings.Cut(name, "=")
		if name == "" || name[0] == '-' {
			return fs.usagef("bad flag syntax %s: flags are --name or --name=value", maskDSN(arg))
		}
		f := fs.Lookup(name)
		if f == nil {
			if name == "h" || name == "help" {
				fs.printUsage(w)
				return errHelp
			}
			return fs.usagef("unknown flag --%s%s", maskDSN(name), fs.suggest(name))
		}
		if isBool(f) {
			if !hasValue {
				value = "true"
			}
		} else if !hasValue {
			if i+1 == len(args) {
				return fs.usagef("--%s needs a value: %s", name, valueKind(f))
			}
			i++
			value = args[i]
		}
		if err := fs.Set(name, value); err != nil {
			return fs.usagef("--%s %s is not %s", name, quoteValue(value), valueKind(f))
		}
	}
	return nil
}

// stray is the error for an argument that is not a flag. A DSN typed
// without --dsn is the likely one: it is masked, and the message says
// where it goes.
func (fs *flagSet) stray(arg string) error {
	return fs.usagef("unexpected argument %s: gormstore %s takes flags only (the database goes in --dsn)", quoteValue(arg), fs.Name())
}

// quoteValue quotes an argument for a message, its password masked.
func quoteValue(v string) string {
	return fmt.Sprintf("%q", maskDSN(v))
}

func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// valueKind says what a flag's value must be, with examples.
func valueKind(f *flag.Flag) string {
	getter, _ := f.Value.(flag.Getter)
	switch getter.Get().(type) {
	case time.Duration:
		return "a duration (such as 500ms, 30s, 5m or 1h30m)"
	case int, int64, uint, uint64:
		return "a whole number"
	case bool:
		return "true or false"
	case float64:
		return "a number"
	}
	if typ, _ := flag.UnquoteUsage(f); typ != "" {
		return "a " + typ
	}
	return "a value"
}

// suggest names the command's flag that name was likely meant to be: one
// it abbreviates, or one within two typing mistakes.
func (fs *flagSet) suggest(name string) string {
	best, bestDist := "", 3
	fs.VisitAll(func(f *flag.Flag) {
		d := editDistance(name, f.Name)
		if strings.HasPrefix(f.Name, name) && len(name) >= 2 {
			d = min(d, 1)
		}
		// At equal distance, the flag that starts as typed: --jsn is
		// --json rather than --dsn.
		if d < bestDist || d == bestDist && best != "" && best[0] != name[0] && f.Name[0] == name[0] {
			best, bestDist = f.Name, d
		}
	})
	if best == "" {
		return fmt.Sprintf(" (gormstore %s --help lists the flags)", fs.Name())
	}
	return "; did you mean --" + best + "?"
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// errHelp is --help, answered: exit 0 without doing anything else.
var errHelp = errors.New("help requested")

// printUsage writes the command's help: its usage line, what it does and
// its flags, spelt with two dashes as docs/operations.md spells them. What
// every command shares (the DSN forms, the exit statuses) is one line that
// says where to read it.
func (fs *flagSet) printUsage(w io.Writer) {
	fmt.Fprintf(w, "Usage: %s\n\n%s", fs.usageLine(), fs.about)
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprint(w, "\nFlags:\n")
	}
	fs.VisitAll(func(f *flag.Flag) {
		typ, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if typ != "" {
			line += " " + typ
		}
		line += "\n    \t" + strings.ReplaceAll(usage, "\n", "\n    \t")
		switch f.DefValue {
		case "", "false", "0", "0s":
		default:
			line += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintln(w, line)
	})
	fmt.Fprint(w, "\n"+commandFooter)
}
