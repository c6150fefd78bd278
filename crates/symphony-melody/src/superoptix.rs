//! Import of SuperOptiX orchestra YAML into a melody.
