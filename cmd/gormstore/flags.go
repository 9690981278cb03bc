package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// flagSet is one subcommand's flags and its help text.
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
	// Parse's own messages would go out before ours, and its usage to
	// stderr even for --help: parse reports both itself.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.dsn = fs.String("dsn", "", "the database's `DSN` (default: $DATABASE_URL, else the SQLite file gormstore.db)")
	return fs
}

// parse parses args. --help prints the usage to w and returns errHelp; a
// bad flag or a stray argument is a usage error.
func (fs *flagSet) parse(w io.Writer, args []string) error {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.printUsage(w)
		return errHelp
	case err != nil:
		return &usageError{msg: err.Error()}
	case fs.NArg() > 0:
		return usagef("unexpected argument %q (flags only; see --help)", fs.Arg(0))
	}
	return nil
}

// errHelp is --help, answered: exit 0 without doing anything else.
var errHelp = errors.New("help requested")

// printUsage writes the usage text, flags spelt with two dashes as the
// README spells them (flag accepts one or two).
func (fs *flagSet) printUsage(w io.Writer) {
	fmt.Fprintf(w, "Usage: gormstore %s %s\n\n%s\nFlags:\n", fs.Name(), fs.synopsis, fs.about)
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
	fmt.Fprint(w, "\n"+dsnHelp+"\n"+exitHelp)
}
