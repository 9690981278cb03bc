package main

import (
	"context"
	"flag"
	"fmt"
	"runtime"
	"runtime/debug"
)

func (c *cli) version(_ context.Context, args []string) error {
	flags := &flagSet{FlagSet: flag.NewFlagSet("version", flag.ContinueOnError), about: "Prints the command's version: its module's, as the Go toolchain stamped it into\nthe binary, \"(devel)\" when it had none, and the commit it was built from.\n"}
	if err := flags.parse(c.stdout, args); err != nil {
		return err
	}
	c.printVersion()
	return nil
}

func (c *cli) printVersion() {
	info, ok := debug.ReadBuildInfo()
	fmt.Fprintln(c.stdout, versionText(info, ok))
}

// versionText is the version line: "gormstore v1.2.3", or "(devel)" for
// a binary without a module version, then the commit where the toolchain
// recorded one, and the Go version and platform.
func versionText(info *debug.BuildInfo, ok bool) string {
	version, commit, goVersion := "(devel)", "", runtime.Version()
	if ok && info != nil {
		if info.Main.Version != "" {
			version = info.Main.Version
		}
		if info.GoVersion != "" {
			goVersion = info.GoVersion
		}
		var revision, modified string
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
		if len(revision) > 12 {
			revision = revision[:12]
		}
		if revision != "" {
			commit = " (commit " + revision
			if modified == "true" {
				commit += ", modified"
			}
			commit += ")"
		}
	}
	return fmt.Sprintf("gormstore %s%s %s %s/%s", version, commit, goVersion, runtime.GOOS, runtime.GOARCH)
}
