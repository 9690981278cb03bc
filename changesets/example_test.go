package changesets_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/attesto/gormstore/changesets"
)

func ExampleClientIDMetadata_Cast() {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	_, err := changesets.ClientIDMetadata{
		URL:        "https://client.example/metadata.json",
		Metadata:   map[string]any{"client_name": "Example\x00"},
		InsertedAt: now,
		ExpiresAt:  now, // not after InsertedAt
	}.Cast(changesets.Limits{})

	fmt.Println(err)
	fmt.Println(errors.Is(err, changesets.ErrInvalid))
	var cerr *changesets.Error
	if errors.As(err, &cerr) {
		fmt.Println(cerr.On("expires_at"))
	}
	// Output:
	// metadata: must not contain NUL characters (\u0000); expires_at: must be after inserted_at
	// true
	// [must be after inserted_at]
}
