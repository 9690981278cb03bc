package bench

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

// The pgx contenders decode what they read exactly as the stores do, so
// that the comparison measures what GORM and database/sql add and nothing
// else. The stores' decoder is unexported (repo/document.go); this package
// holds a generated copy of it, storedDecoderFile, which this test keeps
// current:
//
//	go test ./bench -run TestDecoderCopyIsCurrent -update
var update = flag.Bool("update", false, "rewrite "+storedDecoderFile+" from repo/document.go")

const storedDecoderFile = "zz_stored_decoder_test.go"

const generatedHeader = "// Code generated from repo/document.go by TestDecoderCopyIsCurrent -update. DO NOT EDIT.\n\n"

func TestDecoderCopyIsCurrent(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile(filepath.Join("..", "repo", "document.go"))
	if err != nil {
		t.Fatal(err)
	}
	want := append([]byte(generatedHeader), bytes.Replace(src, []byte("package repo\n"), []byte("package bench\n"), 1)...)
	if *update {
		if err := os.WriteFile(storedDecoderFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(storedDecoderFile)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%s is not repo/document.go's decoder (%v); run go test ./bench -run TestDecoderCopyIsCurrent -update", storedDecoderFile, err)
	}
}
