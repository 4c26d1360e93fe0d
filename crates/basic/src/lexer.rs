//! The lexer (being written).
