// Package gormstore creates the tables of the gormstore stores: a cache of
// OAuth Client ID Metadata Documents, a store of Pushed Authorization
// Requests and a store of one-time identifiers, kept through GORM in
// PostgreSQL or MariaDB/MySQL and shared by every node of an
// authorization server, or in SQLite on a single node.
//
// Call AutoMigrate once at service start-up, from every node if you like:
// it is serialised across nodes (and across processes on one SQLite file),
// creates only what is missing and never alters an existing table. Teams
// that run their own migration tool take the same schema as SQL from
// PostgresMigrations, MySQLMigrations or SQLiteMigrations instead.
//
// The stores live in package repo, their validation in package changesets,
// the models in package models, and expired rows are reclaimed by package
// sweeper; package cimd fetches and validates the documents.
//
// Every package follows the same two conventions. Configuration is a
// Config struct passed by pointer, where every zero field means its
// documented default and nil means every default; where a field is
// required (cimd.Config.Cache, say), nil is the package's configuration
// error. Errors are returned as "<package>: <operation>:
// <cause>", the prefix added once, by the package that returns the error;
// the causes they can act on are sentinel errors (declared in each
// package's errors.go, with no prefix of their own) to test with
// errors.Is. repo.ErrNoDB and sweeper.ErrNoDB are the same value.
package gormstore
