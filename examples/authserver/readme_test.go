package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The README's quick start shows excerpts of this example: the regions of
// its source between the lines "// quickstart:begin" and
// "// quickstart:end", in the order of the files' names and then of the
// lines. What the README shows is therefore code that compiles and that
// the tests run.
const (
	regionBegin = "// quickstart:begin"
	regionEnd   = "// quickstart:end"
)

// TestREADMEQuickStart fails when the README's quick start and the marked
// regions differ (in more than whitespace), and prints the regions as the
// README should show them.
func TestREADMEQuickStart(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	section := quickStart(string(readme))
	if section == "" {
		t.Fatal(`README.md has no "## Quick start" section`)
	}
	if !strings.Contains(section, "go run ./examples/authserver") {
		t.Error("the quick start does not say how to run the example (go run ./examples/authserver)")
	}
	blocks := codeBlocks(section, "go")
	regions := markedRegions(t)
	if len(regions) == 0 {
		t.Fatal("no quickstart region in the example's source")
	}
	if len(blocks) != len(regions) {
		t.Errorf("the quick start has %d Go blocks, the example %d marked regions", len(blocks), len(regions))
	}
	for i, region := range regions {
		if i < len(blocks) && normalize(blocks[i]) == normalize(region) {
			continue
		}
		t.Errorf("the quick start's Go block %d is not the example's region %d; it should read:\n```go\n%s```", i+1, i+1, region)
	}
}

// quickStart is the text of the README's "## Quick start" section.
func quickStart(readme string) string {
	var b strings.Builder
	in := false
	for line := range strings.Lines(readme) {
		if strings.HasPrefix(line, "## ") {
			in = strings.TrimSpace(line) == "## Quick start"
			continue
		}
		if in {
			b.WriteString(line)
		}
	}
	return b.String()
}

// codeBlocks returns the fenced code blocks of text in language lang.
func codeBlocks(text, lang string) []string {
	var blocks []string
	var b strings.Builder
	in := false
	for line := range strings.Lines(text) {
		trimmed := strings.TrimSpace(line)
		switch {
		case !in && trimmed == "```"+lang:
			in = true
			b.Reset()
		case in && trimmed == "```":
			in = false
			blocks = append(blocks, b.String())
		case in:
			b.WriteString(line)
		}
	}
	return blocks
}

// markedRegions returns the marked regions of the example's source, each
// with its common indentation removed.
func markedRegions(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	var regions []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var region []string
		in := false
		for line := range strings.Lines(string(src)) {
			switch strings.TrimSpace(line) {
			case regionBegin:
				if in {
					t.Fatalf("%s: %s inside a region", name, regionBegin)
				}
				in, region = true, nil
			case regionEnd:
				if !in {
					t.Fatalf("%s: %s outside a region", name, regionEnd)
				}
				in = false
				regions = append(regions, dedent(region))
			default:
				if in {
					region = append(region, line)
				}
			}
		}
		if in {
			t.Fatalf("%s: %s without %s", name, regionBegin, regionEnd)
		}
	}
	return regions
}

// dedent joins lines without the leading tabs they all share.
func dedent(lines []string) string {
	indent := -1
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		if n := len(l) - len(strings.TrimLeft(l, "\t")); indent < 0 || n < indent {
			indent = n
		}
	}
	var b strings.Builder
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			l = l[indent:]
		}
		b.WriteString(l)
	}
	return b.String()
}

// normalize makes the comparison blind to whitespace: indentation, the
// alignment of comments, blank lines, line endings.
func normalize(code string) string {
	var lines []string
	for line := range strings.Lines(code) {
		if fields := strings.Fields(line); len(fields) > 0 {
			lines = append(lines, strings.Join(fields, " "))
		}
	}
	return strings.Join(lines, "\n")
}
