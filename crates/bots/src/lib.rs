//! bots (being written).
