// Package gormstore creates the tables of the gormstore stores: a cache of
// OAuth Client ID Metadata Documents and a store of Pushed Authorization
// Requests, kept in PostgreSQL through GORM and shared by every node of an
// authorization server, or in SQLite on a single node.
//
// Call AutoMigrate once at service start-up, from every node if you like:
// it is serialised across nodes (and across processes on one SQLite file),
// creates only what is missing and never alters an existing table. Teams
// that run their own migration tool take the same schema as SQL from
// PostgresMigrations or SQLiteMigrations instead.
//
// The stores live in package repo, their validation in package changesets,
// the models in package models, and expired rows are reclaimed by package
// sweeper.
package gormstore
