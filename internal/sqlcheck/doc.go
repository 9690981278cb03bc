// Package sqlcheck holds a test, and only a test, that reads the module's
// non-test source and fails where SQL text is built from anything but
// constants:
// caller input must reach the database as bind parameters or as
// identifiers quoted by the driver, never spliced into a statement.
package sqlcheck
