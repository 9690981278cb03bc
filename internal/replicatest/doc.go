// Package replicatest holds tests, and only tests, of the stores and the
// sweeper on a real PostgreSQL streaming replica, routed by
// gorm.io/plugin/dbresolver, and of what a failover to that replica loses.
//
// The replica is TEST_REPLICA_URL, a hot standby of the server at
// TEST_DATABASE_URL, when set. Otherwise the tests start their own pair
// (internal/pgtest): a throwaway primary and a hot standby of it made with
// pg_basebackup -R, on ports of their own, the standby applying each commit
// 300 ms late (recovery_min_apply_delay), so a read that reaches it
// certainly misses what was just written. Where a test needs the replica
// to be behind for certain it also pauses its replay
// (pg_wal_replay_pause), so the replica's user must be allowed to call
// pg_wal_replay_pause and pg_wal_replay_resume (a superuser is). The
// failover tests always start their own pairs: they stop the primary and
// promote the standby.
package replicatest
