//! depin-consensus integration tests: the BFT driver in commonware's deterministic simulation.

mod sim;
mod toy;
