package sweeper

import "context"

// TakeLease takes s's lease (Config.Lease) as a pass does and keeps it:
// what a node that dies during its pass leaves behind. renew renews it as
// a pass does between batches, once half its TTL has gone by.
func TakeLease(ctx context.Context, s *Sweeper) (renew func(context.Context) error, err error) {
	s.busy.Lock()
	defer s.busy.Unlock()
	l, err := s.takeLease(ctx)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) error {
		s.busy.Lock()
		defer s.busy.Unlock()
		return s.renewLease(ctx, l)
	}, nil
}
