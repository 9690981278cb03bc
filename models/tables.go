package models

// All returns one zero value of every model, in creation order: the list
// AutoMigrate creates and the sweeper reclaims by default.
func All() []any {
	return []any{&ClientIDMetadata{}, &PushedAuthorizationRequest{}, &Replay{}}
}
