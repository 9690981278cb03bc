package repo_test

import "encoding/json"

func fixturesNumber(s string) json.Number { return json.Number(s) }
