package repo

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// decodeDocument reads a stored JSON object back, keeping every number
// exact as a json.Number: float64 would round 2^53+1.
func decodeDocument(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("data after the stored JSON object")
	}
	if doc == nil {
		return nil, errors.New("stored document is not a JSON object")
	}
	return doc, nil
}
