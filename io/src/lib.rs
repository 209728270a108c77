//! IO driver (in progress).
