//! Integration tests of the device agents.

mod fleet;
